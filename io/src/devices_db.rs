//! The pairing store in the state database: tables `device_pairing_pending` and
//! `device_pairing_paired` with the reference's DDL (`reference-state-db-schema.sql`), loaded
//! once at start and written by applying each [`StoreOp`] batch the hub emits in ONE
//! transaction (a `kill -9` leaves either the whole batch or none of it).

use std::collections::BTreeMap;

use openclaw_core::devices::{DeviceToken, PairedDevice, PairingStore, PendingRequest, StoreOp};
use rusqlite::{params, Row, Transaction};

use crate::state_db::{Migration, StateDb, StateDbError};

/// The device tables (one named migration, appended to `MIGRATIONS`).
pub const MIGRATION: Migration = Migration {
    name: "device_pairing",
    sql: "CREATE TABLE IF NOT EXISTS device_pairing_pending (
  request_id TEXT NOT NULL PRIMARY KEY,
  device_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  display_name TEXT,
  platform TEXT,
  device_family TEXT,
  client_id TEXT,
  client_mode TEXT,
  browser_origin TEXT,
  role TEXT,
  roles_json TEXT,
  scopes_json TEXT,
  remote_ip TEXT,
  silent INTEGER,
  is_repair INTEGER,
  ts INTEGER NOT NULL,
  refreshed_at_ms INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS idx_device_pairing_pending_device
  ON device_pairing_pending(device_id, ts DESC);
CREATE TABLE IF NOT EXISTS device_pairing_paired (
  device_id TEXT NOT NULL PRIMARY KEY,
  public_key TEXT NOT NULL,
  display_name TEXT,
  operator_label TEXT,
  platform TEXT,
  device_family TEXT,
  client_id TEXT,
  client_mode TEXT,
  browser_origin TEXT,
  role TEXT,
  roles_json TEXT,
  scopes_json TEXT,
  approved_scopes_json TEXT,
  remote_ip TEXT,
  tokens_json TEXT,
  approved_via TEXT,
  node_surface_json TEXT,
  pending_node_surface_json TEXT,
  created_at_ms INTEGER NOT NULL,
  approved_at_ms INTEGER NOT NULL,
  last_seen_at_ms INTEGER,
  last_seen_reason TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS idx_device_pairing_paired_approved
  ON device_pairing_paired(approved_at_ms DESC, device_id);",
};

/// Reads the whole store. A state dir whose database does not exist yet has an empty store
/// (and the file is not created for it).
pub fn load(db: &StateDb) -> Result<PairingStore, StateDbError> {
    if db.path().is_some_and(|p| !p.exists()) {
        return Ok(PairingStore::default());
    }
    db.read(|c| {
        let mut s = c.prepare(
            "SELECT request_id, device_id, public_key, display_name, platform, device_family, client_id,
                    client_mode, role, roles_json, scopes_json, remote_ip, silent, is_repair, ts
             FROM device_pairing_pending ORDER BY ts",
        )?;
        let pending = s.query_map([], pending_row)?.collect::<Result<Vec<_>, _>>()?;
        let mut s = c.prepare(
            "SELECT device_id, public_key, display_name, operator_label, platform, device_family, client_id,
                    client_mode, role, roles_json, scopes_json, remote_ip, tokens_json, approved_via,
                    created_at_ms, approved_at_ms, last_seen_at_ms, node_surface_json, pending_node_surface_json
             FROM device_pairing_paired ORDER BY approved_at_ms",
        )?;
        let paired = s.query_map([], paired_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(PairingStore::from_rows(pending, paired))
    })
}

/// Applies one batch in one transaction.
pub fn apply(db: &StateDb, ops: &[StoreOp]) -> Result<(), StateDbError> {
    db.write(|tx| {
        for op in ops {
            apply_one(tx, op)?;
        }
        Ok(())
    })
}

fn apply_one(tx: &Transaction<'_>, op: &StoreOp) -> Result<(), rusqlite::Error> {
    match op {
        StoreOp::PutPending(p) => {
            tx.execute(
                "INSERT OR REPLACE INTO device_pairing_pending (request_id, device_id, public_key, display_name,
                   platform, device_family, client_id, client_mode, role, roles_json, scopes_json, remote_ip,
                   silent, is_repair, ts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    p.request_id,
                    p.device_id,
                    p.public_key,
                    p.display_name,
                    p.platform,
                    p.device_family,
                    p.client_id,
                    p.client_mode,
                    p.role,
                    json(&p.roles),
                    json(&p.scopes),
                    p.remote_ip,
                    i64::from(p.silent),
                    i64::from(p.is_repair),
                    to_i64(p.ts),
                ],
            )?;
        }
        StoreOp::DropPending(id) => {
            tx.execute("DELETE FROM device_pairing_pending WHERE request_id = ?1", [id])?;
        }
        StoreOp::PutPaired(d) => {
            tx.execute(
                "INSERT OR REPLACE INTO device_pairing_paired (device_id, public_key, display_name, operator_label,
                   platform, device_family, client_id, client_mode, role, roles_json, scopes_json,
                   approved_scopes_json, remote_ip, tokens_json, approved_via, created_at_ms, approved_at_ms,
                   last_seen_at_ms, node_surface_json, pending_node_surface_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    d.device_id,
                    d.public_key,
                    d.display_name,
                    d.operator_label,
                    d.platform,
                    d.device_family,
                    d.client_id,
                    d.client_mode,
                    d.role,
                    json(&d.roles),
                    json(&d.scopes),
                    d.remote_ip,
                    json(&d.tokens),
                    d.approved_via,
                    to_i64(d.created_at_ms),
                    to_i64(d.approved_at_ms),
                    d.last_seen_at_ms.map(to_i64),
                    d.node_surface.as_ref().map(json),
                    d.pending_node_surface.as_ref().map(json),
                ],
            )?;
        }
        StoreOp::DropPaired(id) => {
            tx.execute("DELETE FROM device_pairing_paired WHERE device_id = ?1", [id])?;
        }
    }
    Ok(())
}

fn pending_row(r: &Row<'_>) -> Result<PendingRequest, rusqlite::Error> {
    Ok(PendingRequest {
        request_id: r.get(0)?,
        device_id: r.get(1)?,
        public_key: r.get(2)?,
        display_name: r.get(3)?,
        platform: r.get(4)?,
        device_family: r.get(5)?,
        client_id: r.get(6)?,
        client_mode: r.get(7)?,
        role: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        roles: parse(r, 9)?,
        scopes: parse(r, 10)?,
        remote_ip: r.get(11)?,
        silent: r.get::<_, Option<i64>>(12)?.unwrap_or(0) != 0,
        is_repair: r.get::<_, Option<i64>>(13)?.unwrap_or(0) != 0,
        ts: from_i64(r.get(14)?),
    })
}

fn paired_row(r: &Row<'_>) -> Result<PairedDevice, rusqlite::Error> {
    Ok(PairedDevice {
        device_id: r.get(0)?,
        public_key: r.get(1)?,
        display_name: r.get(2)?,
        operator_label: r.get(3)?,
        platform: r.get(4)?,
        device_family: r.get(5)?,
        client_id: r.get(6)?,
        client_mode: r.get(7)?,
        role: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        roles: parse(r, 9)?,
        scopes: parse(r, 10)?,
        remote_ip: r.get(11)?,
        tokens: parse::<BTreeMap<String, DeviceToken>>(r, 12)?,
        approved_via: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
        created_at_ms: from_i64(r.get(14)?),
        approved_at_ms: from_i64(r.get(15)?),
        last_seen_at_ms: r.get::<_, Option<i64>>(16)?.map(from_i64),
        node_surface: parse::<Option<_>>(r, 17)?,
        pending_node_surface: parse::<Option<_>>(r, 18)?,
    })
}

/// A JSON column (absent reads as the empty value); a malformed one is an error naming it.
fn parse<T: serde::de::DeserializeOwned + Default>(r: &Row<'_>, i: usize) -> Result<T, rusqlite::Error> {
    match r.get::<_, Option<String>>(i)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use openclaw_core::devices::{PairingClaim, TokenSource};

    use super::*;

    fn claim(n: u8) -> PairingClaim {
        PairingClaim {
            device_id: format!("dev-{n}"),
            public_key: format!("key-{n}"),
            display_name: Some("vm".into()),
            platform: Some("linux".into()),
            device_family: None,
            client_id: Some("node-host".into()),
            client_mode: Some("node".into()),
            role: "node".into(),
            scopes: Vec::new(),
            remote_ip: Some("192.0.2.7".into()),
        }
    }

    #[test]
    fn batches_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::in_state_dir(dir.path());
        assert_eq!(load(&db).unwrap(), PairingStore::default());
        assert!(!dir.path().join("state/openclaw.sqlite").exists(), "loading an absent store creates nothing");
        let mut store = PairingStore::default();
        let mut tokens = TokenSource::new([5; 32]);
        let (_, _, ops) = store.request(&claim(1), 1000, "r1".into());
        apply(&db, &ops).unwrap();
        let (_, _, ops) = store.request(&claim(2), 2000, "r2".into());
        apply(&db, &ops).unwrap();
        let (_, ops) = store.approve("r1", 3000, "owner", &mut tokens).unwrap();
        apply(&db, &ops).unwrap();
        let (_, ops) = store.rename("dev-1", "kitchen").unwrap();
        apply(&db, &ops).unwrap();
        // A node surface proposed, approved, and a second one pending.
        let declared = |commands: &[&str]| openclaw_core::devices::surface::DeclaredSurface {
            caps: vec!["system".into()],
            commands: commands.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        };
        let mut ids = openclaw_core::ids::IdGen::new(7);
        let (state, ops) = store.propose_surface("dev-1", &declared(&["system.which"]), 4000, &mut ids);
        apply(&db, &ops).unwrap();
        let openclaw_core::devices::store::SurfaceState::Pending { request, .. } = state else { panic!("pending") };
        let (_, ops) = store.approve_surface(&request.request_id, 5000).unwrap();
        apply(&db, &ops).unwrap();
        let (_, ops) = store.propose_surface("dev-1", &declared(&["system.run"]), 6000, &mut ids);
        apply(&db, &ops).unwrap();
        assert!(store.paired_device("dev-1").is_some_and(|d| d.node_surface.is_some() && d.pending_node_surface.is_some()));
        drop(db);
        let again = StateDb::in_state_dir(dir.path());
        assert_eq!(load(&again).unwrap(), store);
    }

    #[test]
    fn a_batch_that_fails_midway_leaves_the_file_as_it_was() {
        let db = StateDb::in_memory();
        let mut store = PairingStore::default();
        let (_, _, ops) = store.request(&claim(1), 1000, "r1".into());
        apply(&db, &ops).unwrap();
        let before = load(&db).unwrap();
        // Approval = drop pending + put paired; make the second statement fail.
        db.write(|tx| tx.execute_batch("CREATE TRIGGER no_pairs BEFORE INSERT ON device_pairing_paired BEGIN SELECT RAISE(ABORT, 'refused'); END;")).unwrap();
        let (_, ops) = store.approve("r1", 2000, "owner", &mut TokenSource::new([1; 32])).unwrap();
        assert!(apply(&db, &ops).is_err());
        assert_eq!(load(&db).unwrap(), before, "the pending row is still there, nothing paired");
    }
}
