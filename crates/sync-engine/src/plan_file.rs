//! The plan file: a reviewable, serialisable [`SyncPlan`] with fingerprints of the snapshots
//! it was made from, so that applying a stale plan is refused (`sync-safety.md` S7).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::error::{Error, StalePlan};
use crate::plan::{CollectionPlan, HeldDeactivation};
use crate::record::{Collection, Completeness, SourceRecord, TargetSnapshot, Value};

/// The plan file format version this crate writes and reads.
pub const PLAN_VERSION: u32 = 1;

/// A whole run's plan: one [`CollectionPlan`] per collection, in apply order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// Format version ([`PLAN_VERSION`]).
    pub version: u32,
    /// Plan id (uuid v7); an approval of held deactivations names it.
    pub id: Uuid,
    /// The integration's name.
    pub integration: String,
    /// When the plan was made.
    pub created_at: DateTime<Utc>,
    /// The source's system name, e.g. `quip`.
    pub source_system: String,
    /// The target's system name, e.g. `oomnitza`.
    pub target_system: String,
    /// Fingerprint of the source records ([`fingerprint_source`]).
    pub source_fingerprint: String,
    /// Whether the source read was complete.
    pub source_completeness: Completeness,
    /// Per collection, in apply order (users before saas_users).
    pub collections: Vec<CollectionPlan>,
}

impl SyncPlan {
    /// The plan as pretty JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(|e| crate::error::ErrorKind::PlanFile(e).into())
    }

    /// Reads a plan from JSON, refusing other format versions.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let plan: SyncPlan =
            serde_json::from_str(json).map_err(crate::error::ErrorKind::PlanFile)?;
        if plan.version != PLAN_VERSION {
            return Err(crate::error::ErrorKind::PlanFile(serde_json::Error::io(
                std::io::Error::other(format!(
                    "plan format version {} is not supported (expected {PLAN_VERSION})",
                    plan.version
                )),
            ))
            .into());
        }
        Ok(plan)
    }

    /// The plan of one collection.
    pub fn collection(&self, collection: Collection) -> Option<&CollectionPlan> {
        self.collections
            .iter()
            .find(|c| c.spec.collection == collection)
    }

    /// Every held deactivation, over all collections.
    pub fn held(&self) -> Vec<HeldDeactivation> {
        self.collections
            .iter()
            .flat_map(CollectionPlan::held)
            .collect()
    }

    /// Checks that the source and every planned target collection are as they were when the
    /// plan was made. `target_fps` holds the current fingerprint of each collection.
    pub fn check_fresh(
        &self,
        source_fp: &str,
        target_fps: &[(Collection, String)],
    ) -> Result<(), StalePlan> {
        if source_fp != self.source_fingerprint {
            return Err(StalePlan {
                what: format!("the {} source", capitalize(&self.source_system)),
                expected: self.source_fingerprint.clone(),
                actual: source_fp.to_owned(),
            });
        }
        for c in &self.collections {
            let current = target_fps
                .iter()
                .find(|(col, _)| *col == c.spec.collection)
                .map_or("(not read)", |(_, fp)| fp.as_str());
            if current != c.target_fingerprint {
                return Err(StalePlan {
                    what: format!("{} {}", capitalize(&self.target_system), c.spec.collection),
                    expected: c.target_fingerprint.clone(),
                    actual: current.to_owned(),
                });
            }
        }
        Ok(())
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn put_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update([0]),
        Value::Bool(b) => h.update([1, u8::from(*b)]),
        Value::Int(n) => {
            h.update([2]);
            h.update(n.to_le_bytes());
        }
        Value::Float(f) => {
            h.update([3]);
            h.update(f.to_bits().to_le_bytes());
        }
        Value::Timestamp(t) => {
            h.update([4]);
            h.update(t.timestamp().to_le_bytes());
            h.update(t.timestamp_subsec_nanos().to_le_bytes());
        }
        Value::String(s) => {
            h.update([5]);
            put_str(h, s);
        }
        Value::List(l) => {
            h.update([6]);
            h.update((l.len() as u64).to_le_bytes());
            for x in l {
                put_value(h, x);
            }
        }
    }
}

fn put_fields(h: &mut Sha256, fields: &crate::record::Fields) {
    h.update((fields.len() as u64).to_le_bytes());
    for (n, v) in fields.iter() {
        put_str(h, n);
        put_value(h, v);
    }
}

/// Combines per-record digests order-independently (sorted), as lowercase hex.
fn combine(mut digests: Vec<[u8; 32]>) -> String {
    digests.sort_unstable();
    let mut h = Sha256::new();
    h.update((digests.len() as u64).to_le_bytes());
    for d in &digests {
        h.update(d);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A deterministic, order-independent fingerprint (sha256 hex) of source records.
pub fn fingerprint_source(records: &[SourceRecord]) -> String {
    let digests = records
        .iter()
        .map(|r| {
            let mut h = Sha256::new();
            put_str(&mut h, &r.key);
            h.update([u8::from(r.active)]);
            put_fields(&mut h, &r.fields);
            h.update((r.roles.len() as u64).to_le_bytes());
            for role in &r.roles {
                put_str(&mut h, role);
            }
            match r.last_activity {
                Some(t) => put_value(&mut h, &Value::Timestamp(t)),
                None => h.update([0xff]),
            }
            h.finalize().into()
        })
        .collect();
    combine(digests)
}

/// A deterministic, order-independent fingerprint (sha256 hex) of a target snapshot.
pub fn fingerprint_target(snapshot: &TargetSnapshot) -> String {
    let digests = snapshot
        .records
        .iter()
        .map(|r| {
            let mut h = Sha256::new();
            put_str(&mut h, &r.id);
            match &r.key {
                Some(k) => put_str(&mut h, k),
                None => h.update([0xff]),
            }
            h.update([
                u8::from(r.active),
                u8::from(r.owned),
                u8::from(r.deactivated_by_sync),
            ]);
            put_fields(&mut h, &r.fields);
            h.finalize().into()
        })
        .collect();
    combine(digests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Fields, TargetRecord};

    fn source(key: &str, name: &str) -> SourceRecord {
        SourceRecord {
            key: key.into(),
            fields: Fields::new().with("name", name),
            active: true,
            roles: vec![],
            last_activity: None,
        }
    }

    #[test]
    fn source_fingerprint_ignores_order_and_sees_changes() {
        let a = [source("1", "Ada"), source("2", "Bob")];
        let b = [source("2", "Bob"), source("1", "Ada")];
        assert_eq!(fingerprint_source(&a), fingerprint_source(&b));
        let c = [source("1", "Ada"), source("2", "Bobby")];
        assert_ne!(fingerprint_source(&a), fingerprint_source(&c));
        assert_eq!(fingerprint_source(&a).len(), 64);
    }

    #[test]
    fn target_fingerprint_sees_flags() {
        let rec = TargetRecord {
            id: "t1".into(),
            key: Some("1".into()),
            fields: Fields::new(),
            active: true,
            owned: true,
            deactivated_by_sync: false,
        };
        let a = TargetSnapshot {
            records: vec![rec.clone()],
        };
        let b = TargetSnapshot {
            records: vec![TargetRecord {
                active: false,
                ..rec
            }],
        };
        assert_ne!(fingerprint_target(&a), fingerprint_target(&b));
    }
}
