//! Making Redis connections the way each kind of process needs them: a pool for request
//! handlers, a reconnecting multiplexed connection for a worker's own traffic, and a
//! dedicated connection for blocking reads.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};

use crate::error::QueueError;

/// A client for `url`.
pub fn client(url: &str) -> Result<Client, QueueError> {
    Ok(Client::open(url)?)
}

/// A pool of `size` connections (web handlers, job handlers).
pub fn pool(url: &str, size: usize) -> Result<deadpool_redis::Pool, QueueError> {
    let mut cfg = deadpool_redis::Config::from_url(url);
    cfg.pool = Some(deadpool_redis::PoolConfig {
        max_size: size,
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_secs(5)),
            create: Some(Duration::from_secs(2)),
            recycle: Some(Duration::from_secs(2)),
        },
        ..Default::default()
    });
    cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| QueueError::Pool(e.to_string()))
}

/// A multiplexed connection that reconnects by itself after Redis restarts, for a worker's
/// claims, renewals and acknowledgements. Requests time out after `response_timeout`.
pub async fn manager(
    client: &Client,
    response_timeout: Duration,
) -> Result<ConnectionManager, QueueError> {
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(2));
    Ok(ConnectionManager::new_with_config(client.clone(), cfg).await?)
}

/// A connection of its own for a blocking read (`XREAD BLOCK`), whose reply may take up to
/// `block` to come.
pub async fn dedicated(
    client: &Client,
    block: Duration,
) -> Result<MultiplexedConnection, QueueError> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(block + Duration::from_secs(2)));
    Ok(client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?)
}
