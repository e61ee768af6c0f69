//! TLS and credentials against real servers, with throwaway certificates
//! (`tests/support/certs.sh`): PostgreSQL with `ssl=on`, a TLS-only role
//! and certificate authentication; Elasticsearch behind a TLS-terminating
//! proxy written here (its test distribution has no TLS of its own); Neo4j
//! with Bolt TLS; the Qdrant test server over TLS. Each kind connects with
//! the right authority, refuses a wrong one and a wrong host name, and
//! prints no secret on any failure.

#[path = "support/qdrant_server.rs"]
mod qdrant_server;
mod support;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{Project, Run};

fn certs() -> PathBuf {
    PathBuf::from(std::env::var("STRATA_TEST_CERTS").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_CERTS is not set: the TLS tests need the certificates \
             tests/support/test.sh makes"
        )
    }))
}

fn cert(name: &str) -> String {
    certs().join(name).display().to_string()
}

/// The test PostgreSQL's port and the TLS-only role's password.
fn pg() -> (u16, String) {
    let url = support::admin_url();
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    let password = std::env::var("STRATA_TEST_PG_TLS_PASSWORD")
        .expect("STRATA_TEST_PG_TLS_PASSWORD: the test PostgreSQL was started without TLS");
    (port.parse().unwrap(), password)
}

fn status(url: &str) -> Run {
    let p = Project::new();
    p.migrate_raw(&["--database-url", url, "status"], &[])
}

fn assert_clean(run: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !run.all().contains(s),
            "a secret was printed:\n{}",
            run.all()
        );
    }
}

#[test]
fn postgres_tls_behaves_like_libpq() {
    let (port, password) = pg();
    let base = |host: &str, query: &str| {
        format!("postgres://strata_tls:{password}@{host}:{port}/postgres?{query}")
    };
    let ca = cert("ca.crt");
    let wrong = cert("wrong-ca.crt");
    // The right authority, with and without host name checks.
    for query in [
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslmode=require&sslrootcert={ca}"),
        "sslmode=require".to_string(),
    ] {
        status(&base("127.0.0.1", &query)).expect(0);
    }
    // `require` with a root certificate verifies it, as libpq does.
    for query in [
        format!("sslmode=require&sslrootcert={wrong}"),
        format!("sslmode=verify-ca&sslrootcert={wrong}"),
        format!("sslmode=verify-full&sslrootcert={wrong}"),
    ] {
        let run = status(&base("127.0.0.1", &query));
        run.expect(1);
        assert!(
            run.stderr.contains("cannot connect"),
            "{query}: {}",
            run.stderr
        );
        assert_clean(&run, &[&password]);
    }
    // The certificate is for 127.0.0.1, not for "localhost".
    let run = status(&base(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    run.expect(1);
    assert_clean(&run, &[&password]);
    status(&base(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .expect(0);
    // The server demands TLS of this role: plaintext is refused.
    let run = status(&base("127.0.0.1", "sslmode=disable"));
    run.expect(1);
    assert!(run.stderr.contains("no encryption"), "{}", run.stderr);
    assert_clean(&run, &[&password]);
}

#[test]
fn postgres_client_certificates_authenticate() {
    let (port, _) = pg();
    let url = |extra: &str| {
        format!(
            "postgres://strata_cert@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}{extra}",
            cert("ca.crt")
        )
    };
    status(&url(&format!(
        "&sslcert={}&sslkey={}",
        cert("client.crt"),
        cert("client.key")
    )))
    .expect(0);
    let run = status(&url(""));
    run.expect(1);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
}

#[test]
fn postgres_tls_settings_are_checked_before_connecting() {
    let (port, password) = pg();
    for (query, needle) in [
        ("sslmode=bogus", "sslmode=bogus is not a TLS mode"),
        (
            "sslmode=verify-full&sslrootcert=/nowhere/root.crt",
            "sslrootcert: cannot read /nowhere/root.crt",
        ),
        (
            "sslmode=verify-ca&sslrootcert=system",
            "needs sslmode=verify-full",
        ),
    ] {
        let run = status(&format!(
            "postgres://strata_tls:{password}@127.0.0.1:{port}/postgres?{query}"
        ));
        run.expect(2);
        assert!(run.stderr.contains(needle), "{query}: {}", run.stderr);
        assert_clean(&run, &[&password]);
    }
    // `system` trusts the system's authorities only: not the test CA.
    let run = status(&format!(
        "postgres://strata_tls:{password}@127.0.0.1:{port}/postgres?sslrootcert=system"
    ));
    run.expect(1);
    assert_clean(&run, &[&password]);
}

#[test]
fn generated_passwords_need_no_escaping() {
    let (port, _) = pg();
    let admin = support::admin_url();
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(support::TestDb::new("pw"));
    for (n, password) in ["aB3/xY9+Qz7kLm==", "p@ss:w/rd%25#?&"].iter().enumerate() {
        let role = format!("strata_pw{n}_{}", std::process::id());
        let sql = format!("CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'");
        let out = std::process::Command::new("psql")
            .args([admin.as_str(), "-qc", &sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = Project::new();
        // In the URL through `${VAR}`, and as a `password` setting.
        p.config(&format!(
            "[databases.a]\nkind = \"postgres\"\nurl = \"postgres://{role}:${{PW}}@127.0.0.1:{port}/{}\"\n\
             [databases.b]\nkind = \"postgres\"\nurl = \"postgres://127.0.0.1:{port}/{}\"\nuser = \"{role}\"\n\
             password = \"${{PW}}\"\n\
             [databases.c]\nkind = \"postgres\"\nurl = \"postgres://{role}:${{PW}}@127.0.0.1:1/x\"\n",
            db.name, db.name
        ));
        for d in ["a", "b", "c"] {
            std::fs::create_dir_all(p.path().join("migrations").join(d)).unwrap();
        }
        let run = p.migrate_raw(
            &["--database", "a", "--database", "b", "status"],
            &[("PW", password)],
        );
        run.expect(0);
        // A wrong one fails without showing any part of it.
        let wrong = format!("{password}x");
        let run = p.migrate_raw(
            &["-vv", "--database", "a", "--database", "b", "status"],
            &[("PW", wrong.as_str())],
        );
        run.expect(1);
        assert!(
            run.stderr.contains("password authentication failed"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("ort number"), "{}", run.stderr);
        assert_clean(&run, &[&wrong, password]);
        // Nothing listening: the URL is shown, its password is not.
        for level in ["", "-v", "-vv"] {
            let mut args = vec!["--connect-timeout", "2", "--database", "c", "status"];
            if !level.is_empty() {
                args.insert(0, level);
            }
            let run = p.migrate_raw(&args, &[("PW", password), ("STRATA_LOG", "trace")]);
            run.expect(1);
            assert!(
                run.stderr
                    .contains(&format!("postgres://{role}:***@127.0.0.1:1/x")),
                "{}",
                run.stderr
            );
            assert_clean(&run, &[password, &password.replace('/', "%2F")]);
        }
    }
}

/// A TLS-terminating proxy in front of the test Elasticsearch, using the
/// test server certificate; with `client_ca`, it demands a client
/// certificate signed by that authority.
async fn tls_proxy(client_ca: Option<&str>) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(cert("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(cert("server.key")).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(cert(ca)).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    }
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = support::es_client::server()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut es) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut es).await;
            });
        }
    });
    port
}

fn project_with(config: &str) -> Project {
    let p = Project::new();
    p.config(config);
    std::fs::create_dir_all(p.path().join("migrations/db")).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_over_https_with_a_custom_authority_and_client_certificates() {
    let port = tls_proxy(None).await;
    let config = |host: &str, ca: &str, extra: &str| {
        format!(
            "[databases.db]\nkind = \"elasticsearch\"\nurl = \"https://{host}:{port}\"\n\
             user = \"elastic\"\npassword = \"es-tls-secret\"\nca_cert = \"{}\"\n{extra}",
            cert(ca)
        )
    };
    let status = |text: String| {
        let p = project_with(&text);
        tokio::task::spawn_blocking(move || p.migrate_raw(&["status"], &[]))
    };
    status(config("127.0.0.1", "ca.crt", ""))
        .await
        .unwrap()
        .expect(0);
    for (host, ca) in [("127.0.0.1", "wrong-ca.crt"), ("localhost", "ca.crt")] {
        let run = status(config(host, ca, "")).await.unwrap();
        run.expect(1);
        assert!(
            run.stderr.contains("cannot connect"),
            "{host} {ca}: {}",
            run.stderr
        );
        assert_clean(&run, &["es-tls-secret"]);
    }
    // A proxy that demands a client certificate.
    let port = tls_proxy(Some("ca.crt")).await;
    let with_client = format!(
        "[databases.db]\nkind = \"elasticsearch\"\nurl = \"https://127.0.0.1:{port}\"\nca_cert = \"{}\"\n",
        cert("ca.crt")
    );
    let run = status(with_client.clone()).await.unwrap();
    run.expect(1);
    let run = status(format!(
        "{with_client}client_cert = \"{}\"\nclient_key = \"{}\"\n",
        cert("client.crt"),
        cert("client.key")
    ))
    .await
    .unwrap();
    run.expect(0);
}

#[tokio::test]
async fn elasticsearch_tls_files_are_checked_before_connecting() {
    for (extra, needle) in [
        (
            "ca_cert = \"/nowhere/ca.pem\"\n",
            "ca_cert: cannot read /nowhere/ca.pem",
        ),
        ("client_cert = \"/etc/hostname\"\n", "go together"),
    ] {
        let p = project_with(&format!(
            "[databases.db]\nkind = \"elasticsearch\"\nurl = \"https://127.0.0.1:9\"\n{extra}"
        ));
        let run = p.migrate_raw(&["status"], &[]);
        run.expect(2);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
    let p = project_with(&format!(
        "[databases.db]\nkind = \"elasticsearch\"\nurl = \"http://127.0.0.1:9\"\nca_cert = \"{}\"\n",
        cert("ca.crt")
    ));
    let run = p.migrate_raw(&["status"], &[]);
    run.expect(2);
    assert!(run.stderr.contains("not https://"), "{}", run.stderr);
}

#[test]
fn neo4j_over_bolt_tls() {
    let (url, password) = support::neo4j_client::server();
    let port = url.rsplit(':').next().unwrap().to_string();
    let config = |scheme: &str, host: &str, ca: &str| {
        format!(
            "[databases.db]\nkind = \"neo4j\"\nurl = \"{scheme}://{host}:{port}\"\nuser = \"neo4j\"\n\
             password = \"${{PW}}\"\nca_cert = \"{}\"\n",
            cert(ca)
        )
    };
    let status = |text: String| project_with(&text).migrate_raw(&["status"], &[("PW", &password)]);
    status(config("bolt+s", "127.0.0.1", "ca.crt")).expect(0);
    status(config("neo4j+s", "127.0.0.1", "ca.crt")).expect(0);
    // The certificate's fault is named, not waited out.
    for (host, ca, why) in [
        (
            "127.0.0.1",
            "wrong-ca.crt",
            "invalid peer certificate: UnknownIssuer",
        ),
        (
            "localhost",
            "ca.crt",
            "invalid peer certificate: certificate not valid for name \"localhost\"",
        ),
    ] {
        let run = status(config("bolt+s", host, ca));
        run.expect(1);
        assert!(
            run.stderr.contains("cannot connect") && run.stderr.contains(why),
            "{}",
            run.stderr
        );
        assert_clean(&run, &[&password]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_over_https_with_a_custom_authority() {
    let server = qdrant_server::TestQdrant::with_api_key("qdrant-tls-secret")
        .start_tls(
            std::fs::read(cert("server.crt")).unwrap(),
            std::fs::read(cert("server.key")).unwrap(),
        )
        .await;
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let config = |host: &str, ca: &str, key: &str| {
        format!(
            "[databases.db]\nkind = \"qdrant\"\nurl = \"https://{host}:{port}\"\n\
             api_key = \"{key}\"\nca_cert = \"{}\"\n",
            cert(ca)
        )
    };
    let status = |text: String| {
        let p = project_with(&text);
        tokio::task::spawn_blocking(move || p.migrate_raw(&["status"], &[]))
    };
    status(config("127.0.0.1", "ca.crt", "qdrant-tls-secret"))
        .await
        .unwrap()
        .expect(0);
    for (host, ca, key) in [
        ("127.0.0.1", "wrong-ca.crt", "qdrant-tls-secret"),
        ("localhost", "ca.crt", "qdrant-tls-secret"),
        ("127.0.0.1", "ca.crt", "qdrant-wrong-secret"),
    ] {
        let run = status(config(host, ca, key)).await.unwrap();
        run.expect(1);
        assert_clean(&run, &["qdrant-tls-secret", "qdrant-wrong-secret"]);
    }
}
