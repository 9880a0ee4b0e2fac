//! Integrations: owner-scoped rows with optimistic concurrency (every change names the
//! version it read), a status (draft, launched, paused) and a schedule.

use sqlx::Row as _;

use crate::db::{Store, new_id};
use crate::error::{ErrorKind, Result, StoreError};
use crate::model::{
    Installation, Integration, IntegrationStatus, IntegrationUpdate, NewIntegration,
    SettingsFormat, ts,
};
use crate::schedule::ScheduleSpec;

const COLUMNS: &str = "id, owner_id, name, status, installation, contacts, settings, \
                       settings_format, version, created_at, updated_at";

fn check_contacts(contacts: &[String]) -> Result<()> {
    for c in contacts {
        let ok = c.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }) && !c
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control() || ch == ',');
        if !ok {
            return Err(StoreError::invalid(
                "contact",
                format!("`{}` is not an email address", c.escape_debug()),
            ));
        }
    }
    Ok(())
}

fn check_settings(settings: &str, format: SettingsFormat) -> Result<()> {
    match format {
        SettingsFormat::Json => serde_json::from_str::<serde_json::Value>(settings)
            .map(drop)
            .map_err(|e| {
                StoreError::invalid(
                    "settings",
                    format!("not JSON (line {} column {})", e.line(), e.column()),
                )
            }),
        // TOML is checked by the runtime's configuration loader, which knows the sections.
        SettingsFormat::Toml => Ok(()),
    }
}

impl Store {
    /// Creates a draft integration of `owner_id` with the default schedule (daily).
    pub async fn create_integration(
        &self,
        owner_id: &str,
        new: &NewIntegration,
    ) -> Result<Integration> {
        if new.name.trim().is_empty() {
            return Err(StoreError::invalid("integration name", "is empty"));
        }
        check_contacts(&new.contacts)?;
        check_settings(&new.settings, new.settings_format)?;
        let id = new_id();
        let now = self.now_ms();
        let contacts = serde_json::to_string(&new.contacts)
            .map_err(|e| StoreError::invalid("contacts", e.to_string()))?;
        let inserted = sqlx::query(
            "INSERT INTO integrations (id, owner_id, name, status, installation, contacts, settings, \
               settings_format, version, created_at, updated_at) \
             VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, 1, $8, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(owner_id)
        .bind(&new.name)
        .bind(new.installation.as_str())
        .bind(contacts)
        .bind(&new.settings)
        .bind(new.settings_format.as_str())
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        if inserted.rows_affected() == 0 {
            return Err(ErrorKind::Duplicate {
                what: "integration",
                name: new.name.clone(),
            }
            .into());
        }
        let spec = ScheduleSpec::default();
        let anchor = spec.date_of(self.inner.clock.now())?;
        self.write_schedule(&id, &spec, anchor, None).await?;
        self.integration(owner_id, &id).await
    }

    /// An integration of `owner_id` (another owner's is "not found").
    pub async fn integration(&self, owner_id: &str, id: &str) -> Result<Integration> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?
        .ok_or_else(|| StoreError::not_found("integration", id))?;
        self.integration_row(&row)
    }

    /// An integration of `owner_id` by name.
    pub async fn integration_by_name(&self, owner_id: &str, name: &str) -> Result<Integration> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE name = $1 AND owner_id = $2"
        ))
        .bind(name)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.db(e))?
        .ok_or_else(|| StoreError::not_found("integration", name))?;
        self.integration_row(&row)
    }

    /// Every integration of `owner_id`, by name.
    pub async fn integrations(&self, owner_id: &str) -> Result<Vec<Integration>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE owner_id = $1 ORDER BY name"
        ))
        .bind(owner_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        rows.iter().map(|r| self.integration_row(r)).collect()
    }

    /// Applies `update` if the integration is still at `expected_version`; otherwise
    /// [`ErrorKind::VersionConflict`] and nothing changes.
    pub async fn update_integration(
        &self,
        owner_id: &str,
        id: &str,
        expected_version: i64,
        update: &IntegrationUpdate,
    ) -> Result<Integration> {
        let current = self.integration(owner_id, id).await?;
        if let Some(contacts) = &update.contacts {
            check_contacts(contacts)?;
        }
        if let Some((settings, format)) = &update.settings {
            check_settings(settings, *format)?;
        }
        let contacts = serde_json::to_string(update.contacts.as_ref().unwrap_or(&current.contacts))
            .map_err(|e| StoreError::invalid("contacts", e.to_string()))?;
        let (settings, format) = update
            .settings
            .clone()
            .unwrap_or((current.settings.clone(), current.settings_format));
        let done = sqlx::query(
            "UPDATE integrations SET name = $1, installation = $2, contacts = $3, settings = $4, \
               settings_format = $5, version = version + 1, updated_at = $6 \
             WHERE id = $7 AND owner_id = $8 AND version = $9",
        )
        .bind(update.name.as_ref().unwrap_or(&current.name))
        .bind(update.installation.unwrap_or(current.installation).as_str())
        .bind(contacts)
        .bind(settings)
        .bind(format.as_str())
        .bind(self.now_ms())
        .bind(id)
        .bind(owner_id)
        .bind(expected_version)
        .execute(self.pool())
        .await;
        let done = match done {
            Ok(done) => done,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(ErrorKind::Duplicate {
                    what: "integration",
                    name: update.name.clone().unwrap_or_default(),
                }
                .into());
            }
            Err(e) => return Err(self.db(e)),
        };
        if done.rows_affected() == 0 {
            let actual = self.integration(owner_id, id).await?.version;
            return Err(ErrorKind::VersionConflict {
                what: "integration",
                id: id.to_owned(),
                expected: expected_version,
                actual,
            }
            .into());
        }
        self.integration(owner_id, id).await
    }

    /// Sets the status (launch, pause, back to draft) if the integration is still at
    /// `expected_version` (`None`: whatever it is). Launching schedules the next slot from
    /// now; pausing or drafting clears it (queued runs stay queued).
    pub async fn set_status(
        &self,
        owner_id: &str,
        id: &str,
        status: IntegrationStatus,
        expected_version: Option<i64>,
    ) -> Result<Integration> {
        let current = self.integration(owner_id, id).await?;
        let expected = expected_version.unwrap_or(current.version);
        let done = sqlx::query(
            "UPDATE integrations SET status = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND owner_id = $4 AND version = $5",
        )
        .bind(status.as_str())
        .bind(self.now_ms())
        .bind(id)
        .bind(owner_id)
        .bind(expected)
        .execute(self.pool())
        .await
        .map_err(|e| self.db(e))?;
        if done.rows_affected() == 0 {
            let actual = self.integration(owner_id, id).await?.version;
            return Err(ErrorKind::VersionConflict {
                what: "integration",
                id: id.to_owned(),
                expected,
                actual,
            }
            .into());
        }
        let schedule = self.schedule(id).await?;
        let next = if status == IntegrationStatus::Launched {
            Some(
                schedule
                    .spec
                    .next_after(schedule.anchor_date, self.inner.clock.now())?,
            )
        } else {
            None
        };
        self.write_schedule(id, &schedule.spec, schedule.anchor_date, next)
            .await?;
        self.integration(owner_id, id).await
    }

    /// Deletes an integration with its schedule, runs, ledger and notifications; false
    /// when there was none.
    pub async fn delete_integration(&self, owner_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM integrations WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .execute(self.pool())
            .await
            .map_err(|e| self.db(e))?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) fn integration_row(&self, row: &sqlx::any::AnyRow) -> Result<Integration> {
        let s = |c: &str| -> Result<String> { row.try_get::<String, _>(c).map_err(|e| self.db(e)) };
        let i = |c: &str| -> Result<i64> { row.try_get::<i64, _>(c).map_err(|e| self.db(e)) };
        let id = s("id")?;
        let contacts: Vec<String> = serde_json::from_str(&s("contacts")?)
            .map_err(|e| StoreError::corrupt("contacts", &id, e))?;
        Ok(Integration {
            owner_id: s("owner_id")?,
            name: s("name")?,
            status: IntegrationStatus::parse(&s("status")?)?,
            installation: Installation::parse(&s("installation")?)?,
            contacts,
            settings: s("settings")?,
            settings_format: SettingsFormat::parse(&s("settings_format")?)?,
            version: i("version")?,
            created_at: ts(i("created_at")?),
            updated_at: ts(i("updated_at")?),
            id,
        })
    }
}
