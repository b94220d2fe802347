//! How old each key set's active key is: `rotate_after_days` of `[[key_sets]]` and `created` of
//! its keys, the warning `check-config` prints for a set whose only key is past that age, and the
//! date the `signgate_key_set_rotate_by_timestamp_seconds` gauge shows. The creation day is
//! written in the configuration rather than read from the key file's modification time, which a
//! copy, a checkout or a container image resets.

use anyhow::{anyhow, bail};

use super::signing::RawKeySet;

/// The longest `rotate_after_days` (ten years).
const MAX_ROTATE_AFTER_DAYS: u32 = 3650;

/// How old a key set's active key is, against the age it should be rotated at: what
/// `check-config` warns about and the `signgate_key_set_*` gauges show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetAge {
    pub name: String,
    /// How many keys the set lists.
    pub keys: usize,
    pub active: String,
    /// The active key's `created` day, as Unix time (midnight UTC), when given.
    pub active_created: Option<u64>,
    pub rotate_after_days: Option<u32>,
}

impl KeySetAge {
    /// When the active key reaches `rotate_after_days`, for a set that has it.
    pub fn rotate_by(&self) -> Option<u64> {
        let days = u64::from(self.rotate_after_days?);
        Some(self.active_created? + days * 86_400)
    }

    /// The warning for a set whose only key is past `rotate_after_days` at `now`: with one key
    /// there is nothing to rotate to, so a leaked or retired key would mean a gap.
    pub fn retirement_warning(&self, now: u64) -> Option<String> {
        let due = self.rotate_by()?;
        if self.keys != 1 || now < due {
            return None;
        }
        let created = self.active_created?;
        Some(format!(
            "key set {:?} has one key, {}, created {} ({} days ago), older than its rotate_after_days = {}: add a new key to the set, make it active, and drop the old one once the URLs it signed have expired (README, \"Rotating signing keys\")",
            self.name,
            self.active,
            format_day(created),
            now.saturating_sub(created) / 86_400,
            self.rotate_after_days.unwrap_or_default(),
        ))
    }
}

/// `"YYYY-MM-DD"` as Unix time at midnight UTC.
fn parse_day(text: &str) -> Option<u64> {
    signgate_providers::time::parse_date(text)
}

/// Unix time as its UTC day, `"YYYY-MM-DD"`.
fn format_day(unix: u64) -> String {
    signgate_providers::time::Civil::from_unix(unix)
        .map_or_else(|| "a day after 9999".into(), |c| c.date())
}

/// The `created` days and `rotate_after_days` of a key set (already read, so `active` names
/// one of its keys). With `rotate_after_days`, every key says when it was made.
pub(super) fn key_set_age(ks: &RawKeySet, at: &str, now: u64) -> anyhow::Result<KeySetAge> {
    if let Some(days) = ks.rotate_after_days {
        if !(1..=MAX_ROTATE_AFTER_DAYS).contains(&days) {
            bail!("{at}.rotate_after_days: must be between 1 and {MAX_ROTATE_AFTER_DAYS}");
        }
    }
    let mut active_created = None;
    for (j, k) in ks.keys.iter().enumerate() {
        let created = match &k.created {
            Some(text) => {
                let day = parse_day(text).ok_or_else(|| {
                    anyhow!("{at}.keys[{j}].created: {text:?} is not a date such as \"2025-01-31\"")
                })?;
                if day > now + 86_400 {
                    bail!("{at}.keys[{j}].created: {text} is in the future");
                }
                Some(day)
            }
            None if ks.rotate_after_days.is_some() => bail!(
                "{at}.keys[{j}].created: needed with rotate_after_days: the day the key pair was made, such as \"2025-01-31\""
            ),
            None => None,
        };
        if k.key_pair_id == ks.active {
            active_created = created;
        }
    }
    Ok(KeySetAge {
        name: ks.name.clone(),
        keys: ks.keys.len(),
        active: ks.active.clone(),
        active_created,
        rotate_after_days: ks.rotate_after_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_and_print_as_utc_calendar_days() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-01-01"), Some(1_767_225_600));
        assert_eq!(parse_day("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "2023-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "25-01-01",
            "1969-12-31",
            "2025-01-32",
            "2025/01/01",
            "+025-01-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        for day in [
            "1970-01-01",
            "2000-02-29",
            "2024-12-31",
            "2026-03-01",
            "2100-03-01",
        ] {
            assert_eq!(format_day(parse_day(day).unwrap()), day);
        }
        assert_eq!(format_day(1_767_225_600 + 86_399), "2026-01-01");
    }

    #[test]
    fn only_a_single_key_past_its_age_is_warned_about() {
        let created = parse_day("2025-01-01").unwrap();
        let age = KeySetAge {
            name: "media".into(),
            keys: 1,
            active: "K1".into(),
            active_created: Some(created),
            rotate_after_days: Some(90),
        };
        assert_eq!(age.rotate_by(), Some(created + 90 * 86_400));
        assert_eq!(age.retirement_warning(created + 89 * 86_400), None);
        let warning = age.retirement_warning(created + 100 * 86_400).unwrap();
        assert!(
            warning.contains("\"media\" has one key, K1, created 2025-01-01 (100 days ago)"),
            "{warning}"
        );
        assert!(warning.contains("rotate_after_days = 90"), "{warning}");
        let two = KeySetAge {
            keys: 2,
            ..age.clone()
        };
        assert_eq!(
            two.retirement_warning(created + 100 * 86_400),
            None,
            "a rotation is under way"
        );
        let unset = KeySetAge {
            rotate_after_days: None,
            ..age
        };
        assert_eq!(unset.retirement_warning(u64::MAX / 2), None);
    }
}
