//! API clients of the hosts a `$kref` can name (§9): what each reads and how it fails.
