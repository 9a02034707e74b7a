//! cordon's job runner: a queue of confined runs per tenant, their records in a store,
//! bounded logs, artifacts and an audit log.
