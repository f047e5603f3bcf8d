//! A cron expression in words, for the API answer and the UI ("At 02:30, Monday to
//! Friday"): the common shapes read naturally, anything else field by field.

const WEEKDAYS: [&str; 8] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn number(field: &str) -> Option<u32> {
    field.parse().ok()
}

/// `*/n` → n.
fn every(field: &str) -> Option<u32> {
    field.strip_prefix("*/").and_then(number)
}

fn any(field: &str) -> bool {
    field == "*" || field == "?"
}

/// Month and weekday names or numbers, as words.
fn name(field: &str, names: &[&str], offset: u32) -> String {
    let lower = field.to_ascii_lowercase();
    if let Some(n) = number(&lower) {
        return names
            .get(n.wrapping_sub(offset) as usize)
            .map_or_else(|| field.to_owned(), |s| (*s).to_owned());
    }
    names
        .iter()
        .find(|n| n[..3].eq_ignore_ascii_case(&lower))
        .map_or_else(|| field.to_owned(), |s| (*s).to_owned())
}

/// A list of values, ranges and steps in words, with `names` for weekdays/months.
fn values(field: &str, names: Option<(&[&str], u32)>) -> String {
    let word = |v: &str| match names {
        Some((names, offset)) => name(v, names, offset),
        None => v.to_owned(),
    };
    let items: Vec<String> = field
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            let range = match range.split_once('-') {
                Some((a, b)) => format!("{} to {}", word(a), word(b)),
                None if any(range) => "all".to_owned(),
                None => word(range),
            };
            match step {
                Some(s) => format!("every {s} of {range}"),
                None => range,
            }
        })
        .collect();
    items.join(", ")
}

fn time_of_day(fields: &[String; 6], with_seconds: bool) -> String {
    let [second, minute, hour, ..] = fields;
    let (s, m, h) = (number(second), number(minute), number(hour));
    match (s, m, h) {
        (Some(s), Some(m), Some(h)) if with_seconds && s != 0 => format!("At {h:02}:{m:02}:{s:02}"),
        (Some(_), Some(m), Some(h)) => format!("At {h:02}:{m:02}"),
        _ if with_seconds && every(second).is_some() && any(minute) && any(hour) => {
            format!("Every {} seconds", every(second).unwrap_or(1))
        }
        _ if with_seconds && any(second) && any(minute) && any(hour) => "Every second".to_owned(),
        (Some(0), _, _) if any(minute) && any(hour) => "Every minute".to_owned(),
        (Some(0), _, _) if every(minute).is_some() && any(hour) => {
            format!("Every {} minutes", every(minute).unwrap_or(1))
        }
        (Some(0), Some(m), None) if any(hour) => format!("Every hour, at minute {m}"),
        (Some(0), Some(m), None) => format!("At minute {m} of hours {}", values(hour, None)),
        _ => {
            let mut parts = Vec::new();
            if with_seconds {
                parts.push(format!("second {}", values(second, None)));
            }
            parts.push(format!("minute {}", values(minute, None)));
            parts.push(format!("hour {}", values(hour, None)));
            format!("At {}", parts.join(", "))
        }
    }
}

/// The description of a parsed expression's fields (seconds first; macros expanded).
pub fn describe(fields: &[String; 6], with_seconds: bool) -> String {
    let [_, _, _, day, month, weekday] = fields;
    let mut text = time_of_day(fields, with_seconds);
    if !any(weekday) {
        text.push_str(", ");
        text.push_str(&values(weekday, Some((&WEEKDAYS, 0))));
    }
    if !any(day) {
        let joiner = if any(weekday) {
            ", on day"
        } else {
            ", or on day"
        };
        text.push_str(&format!("{joiner} {} of the month", values(day, None)));
    }
    if !any(month) {
        text.push_str(&format!(", in {}", values(month, Some((&MONTHS, 1)))));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::cron::Cron;

    #[test]
    fn common_shapes_read_naturally() {
        for (expr, words) in [
            ("30 2 * * 1-5", "At 02:30, Monday to Friday"),
            ("@daily", "At 00:00"),
            ("@weekly", "At 00:00, Sunday"),
            ("@hourly", "Every hour, at minute 0"),
            ("*/5 * * * * *", "Every 5 seconds"),
            ("*/15 * * * *", "Every 15 minutes"),
            ("0 3 1 * *", "At 03:00, on day 1 of the month"),
            ("0 23 * * sat,sun", "At 23:00, Saturday, Sunday"),
            ("0 0 1 jan *", "At 00:00, on day 1 of the month, in January"),
            (
                "5 4 3 2 1 *",
                "At 03:04:05, on day 2 of the month, in January",
            ),
        ] {
            assert_eq!(Cron::parse(expr).unwrap().describe(), words, "{expr}");
        }
    }
}
