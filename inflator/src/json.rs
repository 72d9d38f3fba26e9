//! The precedence helpers of `Netkan/Extensions/JObjectExtensions.cs` (§5): a step adds a
//! property only where the metadata has none, so what the `.netkan` says always wins over
//! what a host says.

use netkan_common::ckan::Object;
use serde_json::Value;

/// Sets `name` only if it is absent (a property explicitly set to `null` counts as present).
/// A null `value` is never added; empty strings and arrays are.
pub fn safe_add(json: &mut Object, name: &str, value: impl Into<Value>) {
    let value = value.into();
    if value.is_null() || json.contains_key(name) {
        return;
    }
    json.insert(name.to_owned(), value);
}

/// [`safe_add`] of a value computed only when it would be used.
pub fn safe_add_with(json: &mut Object, name: &str, value: impl FnOnce() -> Option<Value>) {
    if json.contains_key(name) {
        return;
    }
    if let Some(v) = value()
        && !v.is_null()
    {
        json.insert(name.to_owned(), v);
    }
}

/// `SafeMerge(name, obj)`: creates the object property `name` if needed (only when `source`
/// has properties), then [`safe_add`]s each property of `source`; existing keys win and null
/// values are skipped. A `name` that holds something other than an object is left alone.
pub fn safe_merge(json: &mut Object, name: &str, source: &Object) {
    if source.is_empty() {
        return;
    }
    let target = json
        .entry(name.to_owned())
        .or_insert_with(|| Value::Object(Object::new()));
    if let Value::Object(target) = target {
        for (k, v) in source {
            safe_add(target, k, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn safe_add_adds_when_absent_and_never_overwrites() {
        let mut j = obj(json!({"a": 1, "n": null}));
        safe_add(&mut j, "a", 2);
        safe_add(&mut j, "b", 3);
        safe_add(&mut j, "n", 4);
        safe_add(&mut j, "c", Value::Null);
        safe_add(&mut j, "e", "");
        assert_eq!(
            Value::Object(j),
            json!({"a": 1, "n": null, "b": 3, "e": ""})
        );
    }

    #[test]
    fn safe_merge_keeps_existing_keys_and_skips_nulls() {
        let mut j = obj(json!({"resources": {"homepage": "a"}}));
        safe_merge(
            &mut j,
            "resources",
            &obj(json!({"homepage": "b", "repository": "r", "bugtracker": null})),
        );
        assert_eq!(
            Value::Object(j),
            json!({"resources": {"homepage": "a", "repository": "r"}})
        );
        let mut j = Object::new();
        safe_merge(&mut j, "resources", &Object::new());
        assert!(j.is_empty());
    }
}
