//! Deterministic, realistic test data: the same seed and spec always give the same people.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataSpec {
    /// Random seed; the same seed gives the same data.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Share of users disabled in Quip (0.0–1.0).
    pub disabled_share: f64,
    /// Share of robot (bot) users.
    pub robot_share: f64,
    /// Share of users with more than one email address.
    pub multi_email_share: f64,
    /// Share of users whose names are not ASCII.
    pub non_ascii_share: f64,
    /// Share of users who are Quip admins (Super Admin or Site Admin).
    pub admin_share: f64,
    /// Share of users with a recorded login (last activity).
    pub active_login_share: f64,
    /// Last logins are spread back from this moment (epoch microseconds): 60% of them
    /// within the last 30 days, 20% one to three months old, 13% three months to a year,
    /// the rest older (never before the account was created). Default: the start of
    /// today (UTC), so that the data reads as current against the wall clock and is the
    /// same all day.
    pub activity_as_of_usec: i64,
    /// Email domain.
    pub domain: String,
}

/// Microseconds in a day.
const DAY_USEC: i64 = 86_400_000_000;

/// The start of today (UTC), in epoch microseconds.
fn today_usec() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    now - now.rem_euclid(DAY_USEC)
}

/// Age of a last login for a uniform draw `frac` in `[0, 1)`: see
/// [`DataSpec::activity_as_of_usec`].
fn login_age_usec(frac: f64) -> i64 {
    let (from_days, to_days, at) = match frac {
        f if f < 0.6 => (0.0, 30.0, f / 0.6),
        f if f < 0.8 => (30.0, 90.0, (f - 0.6) / 0.2),
        f if f < 0.93 => (90.0, 365.0, (f - 0.8) / 0.13),
        f => (365.0, 1100.0, (f - 0.93) / 0.07),
    };
    ((from_days + (to_days - from_days) * at) * DAY_USEC as f64) as i64
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            seed: 42,
            users: 200,
            disabled_share: 0.05,
            robot_share: 0.02,
            multi_email_share: 0.1,
            non_ascii_share: 0.15,
            admin_share: 0.03,
            active_login_share: 0.8,
            activity_as_of_usec: today_usec(),
            domain: "acme.example".to_owned(),
        }
    }
}

/// One generated person, as both emulators may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Quip user id: 11 characters, unique.
    pub quip_id: String,
    /// Display name.
    pub name: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email addresses, primary first.
    pub emails: Vec<String>,
    /// Disabled in Quip.
    pub disabled: bool,
    /// A bot account.
    pub is_robot: bool,
    /// Account creation, microseconds since the epoch.
    pub created_usec: i64,
    /// Admin role (`Super Admin`, `Site Admin`) or `None` for members.
    pub admin_role: Option<String>,
    /// Last login, microseconds since the epoch.
    pub last_login_usec: Option<i64>,
}

impl Person {
    /// The primary email.
    pub fn email(&self) -> &str {
        self.emails.first().map_or("", String::as_str)
    }
}

/// (display, ASCII form for email addresses)
const FIRST: &[(&str, &str)] = &[
    ("Jane", "jane"),
    ("John", "john"),
    ("Maria", "maria"),
    ("Ahmed", "ahmed"),
    ("Wei", "wei"),
    ("Olga", "olga"),
    ("Liam", "liam"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Ava", "ava"),
    ("Lucas", "lucas"),
    ("Mia", "mia"),
    ("Priya", "priya"),
    ("Kenji", "kenji"),
    ("Fatima", "fatima"),
    ("Diego", "diego"),
    ("Sofia", "sofia"),
    ("Ethan", "ethan"),
    ("Chloe", "chloe"),
    ("Omar", "omar"),
];
const LAST: &[(&str, &str)] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Garcia", "garcia"),
    ("Chen", "chen"),
    ("Patel", "patel"),
    ("Kim", "kim"),
    ("Brown", "brown"),
    ("Nguyen", "nguyen"),
    ("Rossi", "rossi"),
    ("Novak", "novak"),
    ("Silva", "silva"),
    ("Cohen", "cohen"),
    ("Okafor", "okafor"),
    ("Larsen", "larsen"),
    ("Dubois", "dubois"),
    ("Murphy", "murphy"),
];
const FIRST_NON_ASCII: &[(&str, &str)] = &[
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Björn", "bjorn"),
    ("Ñuria", "nuria"),
    ("Çağla", "cagla"),
    ("Jürgen", "jurgen"),
    ("Анна", "anna"),
    ("陽翔", "haruto"),
];
const LAST_NON_ASCII: &[(&str, &str)] = &[
    ("Müller", "muller"),
    ("Núñez", "nunez"),
    ("Øvergård", "overgard"),
    ("Wójcik", "wojcik"),
    ("Đorđević", "djordjevic"),
    ("Öztürk", "ozturk"),
    ("Иванова", "ivanova"),
    ("田中", "tanaka"),
];
const ROBOTS: &[&str] = &[
    "Salesforce Sync",
    "Slack Bridge",
    "Jira Bot",
    "Backup Service",
];

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A Quip-style 11-character id, unique per `index`, deterministic per `rng`.
fn quip_id(rng: &mut StdRng, prefix: u8, index: usize) -> String {
    let mut id = vec![prefix];
    for _ in 0..4 {
        id.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())]);
    }
    let mut n = index;
    let mut tail = [b'A'; 6];
    for slot in tail.iter_mut().rev() {
        *slot = ID_ALPHABET[n % ID_ALPHABET.len()];
        n /= ID_ALPHABET.len();
    }
    id.extend_from_slice(&tail);
    String::from_utf8(id).unwrap_or_default()
}

/// A company id for `seed`.
pub fn company_id(seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC0FF_EE00);
    quip_id(&mut rng, b'I', 0)
}

/// Generates `spec.users` people. Deterministic in `spec`.
pub fn generate(spec: &DataSpec) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    // 2021-09-19, the date of Quip's documented example user, as a plausible epoch.
    let base_created: i64 = 1_632_022_665_732_239;
    let now_usec: i64 = 1_790_000_000_000_000;
    (0..spec.users)
        .map(|i| {
            let is_robot = rng.random_bool(spec.robot_share.clamp(0.0, 1.0));
            let non_ascii = rng.random_bool(spec.non_ascii_share.clamp(0.0, 1.0));
            let (first, first_ascii) = if non_ascii {
                FIRST_NON_ASCII[rng.random_range(0..FIRST_NON_ASCII.len())]
            } else {
                FIRST[rng.random_range(0..FIRST.len())]
            };
            let (last, last_ascii) = if non_ascii && rng.random_bool(0.6) {
                LAST_NON_ASCII[rng.random_range(0..LAST_NON_ASCII.len())]
            } else {
                LAST[rng.random_range(0..LAST.len())]
            };
            let (name, first_name, last_name, local) = if is_robot {
                let bot = ROBOTS[rng.random_range(0..ROBOTS.len())];
                (
                    format!("{bot} {i}"),
                    bot.to_owned(),
                    String::new(),
                    format!("bot-{i}"),
                )
            } else {
                (
                    format!("{first} {last}"),
                    first.to_owned(),
                    last.to_owned(),
                    format!("{first_ascii}.{last_ascii}{i}"),
                )
            };
            let mut emails = vec![format!("{local}@{}", spec.domain)];
            if !is_robot && rng.random_bool(spec.multi_email_share.clamp(0.0, 1.0)) {
                emails.push(format!("{first_ascii}{i}@old.{}", spec.domain));
            }
            let created_usec = base_created + rng.random_range(0..100_000_000_000_000_i64);
            let disabled = rng.random_bool(spec.disabled_share.clamp(0.0, 1.0));
            let admin_role =
                (!is_robot && rng.random_bool(spec.admin_share.clamp(0.0, 1.0))).then(|| {
                    if rng.random_bool(0.3) {
                        "Super Admin"
                    } else {
                        "Site Admin"
                    }
                    .to_owned()
                });
            // One draw, as always (the people after this one stay the same), turned into a
            // recency spread back from `activity_as_of_usec`.
            let last_login_usec = (!is_robot
                && rng.random_bool(spec.active_login_share.clamp(0.0, 1.0)))
            .then(|| {
                let low = created_usec.min(now_usec - 1);
                let draw = rng.random_range(low..now_usec);
                let frac = (draw - low) as f64 / (now_usec - low) as f64;
                (spec.activity_as_of_usec - login_age_usec(frac)).max(created_usec)
            });
            Person {
                quip_id: quip_id(&mut rng, b'U', i),
                name,
                first_name,
                last_name,
                emails,
                disabled,
                is_robot,
                created_usec,
                admin_role,
                last_login_usec,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_people_and_unique_ids() {
        let spec = DataSpec {
            users: 5_000,
            ..DataSpec::default()
        };
        let a = generate(&spec);
        assert_eq!(a, generate(&spec));
        let ids: std::collections::HashSet<_> = a.iter().map(|p| &p.quip_id).collect();
        assert_eq!(ids.len(), 5_000);
        assert!(a.iter().all(|p| p.quip_id.len() == 11));
        let emails: std::collections::HashSet<_> = a.iter().map(Person::email).collect();
        assert_eq!(emails.len(), 5_000, "primary emails are unique");
        assert!(a.iter().any(|p| !p.name.is_ascii()));
        assert!(a.iter().any(|p| p.disabled));
        assert!(a.iter().any(|p| p.is_robot));
        assert!(a.iter().any(|p| p.emails.len() > 1));
        let other = generate(&DataSpec { seed: 7, ..spec });
        assert_ne!(a, other);
    }
}
