//! `x_netkan_optimus_prime` (§5 #23): a joke that only logs.

use netkan_common::ckan::Object;

use crate::InflateError;
use crate::context::Context;
use crate::metadata;

/// Logs "Autobots roll out!" if asked to.
pub async fn transform(
    metadata: Object,
    cx: &mut Context<'_>,
) -> Result<Vec<Object>, InflateError> {
    if metadata::options(&metadata)?.optimus_prime {
        cx.info("Autobots roll out!");
    }
    Ok(vec![metadata])
}

#[cfg(test)]
mod tests {
    use netkan_common::log::Level;
    use serde_json::json;

    use crate::pipeline::Step;
    use crate::testing_support::{Harness, obj};

    #[tokio::test]
    async fn optimus_prime_only_logs() {
        let mut h = Harness::new();
        let j = obj(json!({"identifier": "A", "x_netkan_optimus_prime": true}));
        assert_eq!(
            h.run(Step::OptimusPrime, j.clone()).await.expect("ok"),
            vec![j]
        );
        let lines = h.log.lines.lock().expect("unpoisoned").clone();
        assert!(lines.contains(&(Level::Info, "Autobots roll out!".to_owned())));
    }
}
