//! [`redact_url`]: a connection URL fit for messages and logs.

/// `url` with its password (in the user info or a `password=` query
/// parameter) replaced by `***`; anything that is not a URL comes back as is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_and_everything_else_kept() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/prod",
                "postgres://app:***@db:5432/prod",
            ),
            ("redis://:secret@host", "redis://:***@host"),
            (
                "redis://user:secret@host:6379/0",
                "redis://user:***@host:6379/0",
            ),
            ("postgres://app@db/prod", "postgres://app@db/prod"),
            (
                "postgres://db/prod?user=app&password=s3cret&sslmode=disable",
                "postgres://db/prod?user=app&password=***&sslmode=disable",
            ),
            (
                "postgres://a:b@db?password=x",
                "postgres://a:***@db?password=***",
            ),
            ("redis://host:6379", "redis://host:6379"),
            ("botflow.db", "botflow.db"),
            ("sqlite://runs/botflow.db", "sqlite://runs/botflow.db"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
