//! Configuration of the Quip emulator: tokens, OAuth client, rate limits, page sizes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::{Clock, SystemClock};

/// Configuration of the Quip emulator.
///
/// Every field has a default, so `QuipConfig::default()` (or an empty TOML table) gives an
/// emulator with Quip's documented limits and the project's working assumptions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QuipConfig {
    /// Port on 127.0.0.1; 0 lets the OS choose.
    pub port: u16,
    /// The bearer token the emulator accepts for the Automation and Admin APIs: an admin's
    /// token, owned by the first enabled, non-robot admin person.
    pub token: String,
    /// A second token, owned by the first enabled, non-robot member without an admin role.
    /// It works on the Automation API only; Admin routes answer 403.
    pub non_admin_token: Option<String>,
    /// The SCIM bearer token; `None` means the admin token also works on `/2/...`.
    pub scim_token: Option<String>,
    /// The OAuth client and its refresh token (`POST /1/oauth/access_token`).
    pub oauth: QuipOAuthConfig,
    /// Rate limits per fixed minute/hour window.
    pub limits: QuipLimits,
    /// How an exhausted budget is answered.
    pub throttle_style: ThrottleStyle,
    /// Largest `count` honoured by `POST /1/admin/users/list` (larger asks are capped).
    pub admin_list_max_count: usize,
    /// Largest `count` honoured by SCIM `GET /2/Users` (larger asks are capped).
    pub scim_max_count: usize,
    /// Events per page of the Events API.
    pub events_page_size: usize,
    /// Serve `GET /1/admin/company/admin-roles` (an unconfirmed endpoint). When false the
    /// route answers 404 like a tenant without it.
    pub admin_roles_endpoint: bool,
    /// Whether this tenant has the Events API (a paid add-on). Without it every Events
    /// route answers 404 (`not_found`) or 403 (`forbidden`) with the error JSON.
    pub events_api: EventsApi,
    /// Older `login` events seeded per person, before the one at `last_login_usec`.
    pub older_logins_per_person: u32,
    /// The clock measuring rate-limit windows, token expiry and modification times.
    /// Share a [`crate::ScaledClock`] with a client under test to run through windows quickly.
    #[serde(skip, default = "default_clock")]
    pub clock: Arc<dyn Clock>,
}

fn default_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

impl Default for QuipConfig {
    fn default() -> Self {
        QuipConfig {
            port: 0,
            token: "sandbox-quip-token".to_owned(),
            non_admin_token: Some("sandbox-quip-member-token".to_owned()),
            scim_token: None,
            oauth: QuipOAuthConfig::default(),
            limits: QuipLimits::default(),
            throttle_style: ThrottleStyle::default(),
            admin_list_max_count: 100,
            scim_max_count: 100,
            events_page_size: 500,
            admin_roles_endpoint: true,
            events_api: EventsApi::default(),
            older_logins_per_person: 2,
            clock: default_clock(),
        }
    }
}

/// Whether the Events API (paid add-on) is licensed on the emulated tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventsApi {
    /// Licensed: the Events routes serve events.
    #[default]
    Available,
    /// Not licensed, answered as an unknown route: 404.
    NotFound,
    /// Not licensed, answered as not allowed: 403.
    Forbidden,
}

/// The OAuth 2 client registered with the emulator (sandbox values, not secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuipOAuthConfig {
    /// `client_id` to send to `POST /1/oauth/access_token`.
    pub client_id: String,
    /// `client_secret` to send with it.
    pub client_secret: String,
    /// The refresh token accepted with `grant_type=refresh_token` (it stays valid).
    pub refresh_token: String,
    /// Lifetime of issued access tokens, in seconds of the emulator's clock (`expires_in`).
    pub expires_in_secs: u64,
}

impl Default for QuipOAuthConfig {
    fn default() -> Self {
        QuipOAuthConfig {
            client_id: "sandbox-quip-client".to_owned(),
            client_secret: "sandbox-quip-client-secret".to_owned(),
            refresh_token: "sandbox-quip-refresh-token".to_owned(),
            // 30 days, the lifetime mentioned once in public material (unconfirmed).
            expires_in_secs: 30 * 24 * 3600,
        }
    }
}

/// Requests allowed per fixed window. Defaults are Quip's documented limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuipLimits {
    /// Automation API (`/1/users*`, `/1/oauth/*`), per user, per minute.
    pub automation_per_minute: u64,
    /// Automation API, per user, per hour.
    pub automation_per_hour: u64,
    /// Admin API (`/1/admin/*`), per user, per minute.
    pub admin_per_minute: u64,
    /// Admin API, per user, per hour.
    pub admin_per_hour: u64,
    /// Every non-SCIM route together, per company, per minute.
    pub company_per_minute: u64,
    /// SCIM (`/2/*`), per company, per minute.
    pub scim_per_minute: u64,
}

impl Default for QuipLimits {
    fn default() -> Self {
        QuipLimits {
            automation_per_minute: 50,
            automation_per_hour: 750,
            admin_per_minute: 100,
            admin_per_hour: 1_500,
            company_per_minute: 600,
            scim_per_minute: 600,
        }
    }
}

impl QuipLimits {
    /// Limits so high that nothing is ever throttled (benchmarks, bulk tests).
    pub fn unlimited() -> Self {
        let n = u64::from(u32::MAX);
        QuipLimits {
            automation_per_minute: n,
            automation_per_hour: n,
            admin_per_minute: n,
            admin_per_hour: n,
            company_per_minute: n,
            scim_per_minute: n,
        }
    }
}

/// How the emulator answers a request over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThrottleStyle {
    /// `503` with `{"error_description":"Over Rate Limit"}` and a correct
    /// `X-Ratelimit-Reset` (Quip's historical signal).
    #[default]
    #[serde(rename = "status_503")]
    Status503,
    /// `429` with `X-Ratelimit-Reset: 0` (observed since 2022).
    #[serde(rename = "status_429")]
    Status429,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_fills_defaults_and_names_throttle_styles() {
        let config: QuipConfig = serde_json::from_str(
            r#"{"token":"t","throttle_style":"status_429","limits":{"scim_per_minute":5}}"#,
        )
        .expect("valid config");
        assert_eq!(config.token, "t");
        assert_eq!(config.throttle_style, ThrottleStyle::Status429);
        assert_eq!(config.limits.scim_per_minute, 5);
        assert_eq!(config.limits.automation_per_minute, 50, "default kept");
        assert_eq!(config.scim_max_count, 100);
        assert_eq!(config.events_page_size, 500);
        let json = serde_json::to_value(&config).expect("serializes");
        assert_eq!(json["throttle_style"], "status_429");
        assert!(
            json.get("clock").is_none(),
            "the clock is not configuration"
        );
        let back: QuipConfig = serde_json::from_value(json).expect("round trip");
        assert_eq!(back.limits, config.limits);
    }
}
