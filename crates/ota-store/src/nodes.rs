//! The node registry: which server processes work on this store, whether they are alive,
//! and which surviving node recovers a lost one.
//!
//! Times here are the nodes' wall clocks (epoch ms), passed in by the caller: liveness is
//! judged across machines, never by a platform clock a test or demo may move.
//! Claiming a lost node is one conditional UPDATE (still unclaimed, still lapsed), so of
//! several surviving nodes exactly one wins, on both dialects.

use crate::{Result, Store};
use ota_domain::Millis;
use sqlx::Row;
use sqlx::any::AnyRow;

/// One running (or lost) server process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Unique per run: a restarted process registers a new row.
    pub node_id: String,
    /// Stable across restarts of one process slot (host and HTTP address).
    pub name: String,
    /// The base of the download URLs its pushes carry.
    pub public_url: String,
    /// Whether `public_url` was configured rather than the node's own address.
    pub public_url_explicit: bool,
    /// Whether its pushes carry presigned bucket URLs instead (packages in S3).
    pub presigned_downloads: bool,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    /// When a surviving node declared it lost, and which one.
    pub lost_at: Option<Millis>,
    pub recovered_by: Option<String>,
}

macro_rules! node_cols {
    () => {
        "node_id, name, public_url, public_url_explicit, presigned_downloads, started_at, \
         heartbeat_at, lost_at, recovered_by"
    };
}

fn node(r: &AnyRow) -> Result<NodeRow> {
    Ok(NodeRow {
        node_id: r.try_get("node_id")?,
        name: r.try_get("name")?,
        public_url: r.try_get("public_url")?,
        public_url_explicit: r.try_get::<i64, _>("public_url_explicit")? != 0,
        presigned_downloads: r.try_get::<i64, _>("presigned_downloads")? != 0,
        started_at: r.try_get("started_at")?,
        heartbeat_at: r.try_get("heartbeat_at")?,
        lost_at: r.try_get("lost_at")?,
        recovered_by: r.try_get("recovered_by")?,
    })
}

impl Store {
    /// Records a starting node (its heartbeat is its start).
    pub async fn register_node(&self, n: &NodeRow) -> Result<()> {
        sqlx::query(concat!(
            "INSERT INTO nodes (",
            node_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
        ))
        .bind(&n.node_id)
        .bind(&n.name)
        .bind(&n.public_url)
        .bind(i64::from(n.public_url_explicit))
        .bind(i64::from(n.presigned_downloads))
        .bind(n.started_at)
        .bind(n.heartbeat_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Renews a node's heartbeat. False when its row is gone or another node declared it
    /// lost meanwhile (it was silent past the lease): nothing is written then.
    pub async fn node_heartbeat(&self, node_id: &str, now: Millis) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE nodes SET heartbeat_at = $2 WHERE node_id = $1 AND lost_at IS NULL",
        )
        .bind(node_id)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Removes a node that stops cleanly: nothing of it needs recovering.
    pub async fn deregister_node(&self, node_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM nodes WHERE node_id = $1")
            .bind(node_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// One node's row.
    pub async fn node(&self, node_id: &str) -> Result<Option<NodeRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            node_cols!(),
            " FROM nodes WHERE node_id = $1"
        ))
        .bind(node_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(node).transpose()
    }

    /// Every registered node, lost ones included, oldest first.
    pub async fn list_nodes(&self) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_cols!(),
            " FROM nodes ORDER BY started_at, node_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(node).collect()
    }

    /// Nodes not declared lost whose last heartbeat is at or after `since`, oldest first.
    pub async fn live_nodes(&self, since: Millis) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_cols!(),
            " FROM nodes WHERE lost_at IS NULL AND heartbeat_at >= $1 \
             ORDER BY started_at, node_id"
        ))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(node).collect()
    }

    /// Nodes not declared lost whose last heartbeat is before `before`, longest silent
    /// first: candidates for [`Store::claim_lost_node`].
    pub async fn lapsed_nodes(&self, before: Millis) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_cols!(),
            " FROM nodes WHERE lost_at IS NULL AND heartbeat_at < $1 \
             ORDER BY heartbeat_at, node_id"
        ))
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(node).collect()
    }

    /// Earlier runs of the process slot `name` still registered as alive, other than
    /// `node_id`: a restarted node finds the rows its previous run could not remove.
    pub async fn earlier_runs(&self, name: &str, node_id: &str) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            node_cols!(),
            " FROM nodes WHERE lost_at IS NULL AND name = $1 AND node_id <> $2 \
             ORDER BY started_at, node_id"
        ))
        .bind(name)
        .bind(node_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(node).collect()
    }

    /// Declares `lost` lost on behalf of `claimant`, if nobody did yet and (when
    /// `lapsed_before` is given) its heartbeat is still older than that. True for exactly one
    /// caller: that one recovers it.
    pub async fn claim_lost_node(
        &self,
        lost: &str,
        claimant: &str,
        now: Millis,
        lapsed_before: Option<Millis>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE nodes SET lost_at = $3, recovered_by = $2 \
             WHERE node_id = $1 AND lost_at IS NULL AND heartbeat_at < $4",
        )
        .bind(lost)
        .bind(claimant)
        .bind(now)
        .bind(lapsed_before.unwrap_or(Millis::MAX))
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Forgets nodes declared lost before `before` (their recovery is long done).
    pub async fn forget_lost_nodes(&self, before: Millis) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM nodes WHERE lost_at IS NOT NULL AND lost_at < $1")
                .bind(before)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }
}
