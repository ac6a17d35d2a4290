//! Just enough XML to read S3's answers (error codes, upload ids, object listings) without an
//! XML dependency: S3 responses are flat, attribute-free below the root, and entity-escaped.

/// The text of every `<name>…</name>` element, in document order (raw, still escaped).
pub(crate) fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    out
}

/// The unescaped text of the first `<name>` element.
pub(crate) fn text(xml: &str, name: &str) -> Option<String> {
    elements(xml, name).first().map(|t| unescape(t))
}

/// Resolves the five predefined entities and numeric character references.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => numeric(entity),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn numeric(entity: &str) -> Option<char> {
    let code = if let Some(hex) = entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else {
        entity.strip_prefix('#')?.parse().ok()?
    };
    char::from_u32(code)
}

/// Escapes text for an element body.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_and_entities() {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><Contents><Key>a&amp;b</Key>\
                   <Size>3</Size></Contents><Contents><Key>c&#x20;d&#33;</Key><Size>4</Size></Contents>\
                   </ListBucketResult>";
        let keys: Vec<String> = elements(xml, "Contents")
            .iter()
            .filter_map(|c| text(c, "Key"))
            .collect();
        assert_eq!(keys, ["a&b", "c d!"]);
        assert_eq!(text(xml, "Missing"), None);
        assert_eq!(unescape("x & y &bogus; &lt;"), "x & y &bogus; <");
    }

    #[test]
    fn escape_round_trips() {
        let s = "\"etag\" & <x>";
        assert_eq!(unescape(&escape(s)), s);
    }
}
