//! The web front end: webhooks, job logs, the JSON API, status and the operator dashboard.
