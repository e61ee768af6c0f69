//! `${VAR}` references in config values, expanded from the environment.

/// Expands `${VAR}` references. A `$` not followed by `{` is kept as is, so
/// passwords with dollar signs need no escaping.
pub fn expand(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${ (expected ${NAME})".to_string())?;
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "${{{name}}} is not a valid environment variable reference"
            ));
        }
        match env(name) {
            Some(v) => out.push_str(&v),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands a URL template's `${VAR}` references. A value substituted
/// inside the userinfo (`scheme://user:${PASSWORD}@host`) is
/// percent-encoded, so a generated password holding `/`, `+`, `=`, `@`,
/// `:`, `#`, `%` or `?` needs no escaping; it is also returned, so that it
/// is scrubbed from messages in every form. Values elsewhere in the URL are
/// taken as written.
pub fn expand_url(
    template: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<(String, Vec<String>), String> {
    // The template's own userinfo: `${NAME}` holds no `/` or `@`, so the
    // span is found before anything is substituted.
    let span = template.find("://").map(|s| s + 3).and_then(|start| {
        let authority_end = template[start..]
            .find(['/', '?', '#'])
            .map_or(template.len(), |e| start + e);
        template[start..authority_end]
            .rfind('@')
            .map(|at| (start, start + at))
    });
    let Some((start, end)) = span else {
        return Ok((expand(template, env)?, Vec::new()));
    };
    let substituted = std::cell::RefCell::new(Vec::new());
    let encoded = |name: &str| {
        env(name).map(|v| {
            let encoded = crate::secret::percent_encode(&v);
            substituted.borrow_mut().push(v);
            encoded
        })
    };
    let userinfo = expand(&template[start..end], &encoded)?;
    let substituted = substituted.into_inner();
    let url = format!(
        "{}{userinfo}{}",
        expand(&template[..start], env)?,
        expand(&template[end..], env)?
    );
    Ok((url, substituted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_the_userinfo_are_percent_encoded() {
        let env = |name: &str| match name {
            "PW" => Some("aB3/xY9+Qz7kLm==".to_string()),
            "ODD" => Some("p@ss:w/rd%25#?".to_string()),
            "HOST" => Some("db:5432".to_string()),
            _ => None,
        };
        let (url, subs) = expand_url("postgres://billing:${PW}@${HOST}/billing", &env).unwrap();
        assert_eq!(
            url,
            "postgres://billing:aB3%2FxY9%2BQz7kLm%3D%3D@db:5432/billing"
        );
        assert_eq!(subs, ["aB3/xY9+Qz7kLm=="]);
        let (url, _) = expand_url("postgres://${ODD}:${ODD}@h/d?x=${HOST}", &env).unwrap();
        assert_eq!(
            url,
            "postgres://p%40ss%3Aw%2Frd%2525%23%3F:p%40ss%3Aw%2Frd%2525%23%3F@h/d?x=db:5432"
        );
        // No userinfo in the template: expanded as written.
        let (url, subs) = expand_url("${HOST}", &env).unwrap();
        assert_eq!((url.as_str(), subs.len()), ("db:5432", 0));
        assert!(
            expand_url("postgres://u:${NOPE}@h/d", &env)
                .unwrap_err()
                .contains("NOPE")
        );
    }
}
