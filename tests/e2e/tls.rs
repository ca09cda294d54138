//! TLS is verified by default: against a real TLS server (`openssl s_server`) whose
//! certificate is signed by a CA the machine does not trust, the desktop's ksqlDB connection,
//! the edge node's S3 upload and the edge node's Kafka connection all refuse, and each error
//! says that the certificate could not be verified. There is no setting that turns
//! verification off; for a ksqlDB server with a private CA, `--ksqldb-ca-file` adds that CA to
//! the roots, and the same server then passes.

use std::path::Path;
use std::process::{Command, Stdio};

use motion_e2e::node::{NodeConfig, Targets};
use motion_e2e::process::Proc;
use motion_e2e::servers::free_port;
use motion_e2e::{bin, make_clip, wait_for, Stack};

/// A TLS server on 127.0.0.1 with a certificate from a throwaway CA; stopped on drop.
struct UntrustedTls {
    _server: Proc,
    port: u16,
}

impl UntrustedTls {
    fn start(dir: &Path) -> UntrustedTls {
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Untrusted test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("ext file");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        let port = free_port();
        let server = Proc::spawn(
            Command::new("openssl")
                .args([
                    "s_server",
                    "-quiet",
                    "-www",
                    "-cert",
                    "server.pem",
                    "-key",
                    "server.key",
                ])
                .args(["-accept", &port.to_string()])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "openssl s_server",
        );
        wait_for("the TLS server", std::time::Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        UntrustedTls {
            _server: server,
            port,
        }
    }
}

fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_desktops_ksqldb_connection_verifies_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = UntrustedTls::start(dir.path());
    let (ok, text) = output(motion_e2e::app::command().args([
        "check",
        "--ksqldb-url",
        &format!("https://127.0.0.1:{}", tls.port),
    ]));
    assert!(!ok, "an untrusted certificate must fail the check: {text}");
    assert!(
        text.contains("TLS failed") && text.contains("UnknownIssuer"),
        "{text}"
    );
}

#[test]
fn the_edge_nodes_s3_and_kafka_connections_verify_the_certificate() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = UntrustedTls::start(dir.path());
    let clip = make_clip(dir.path(), "clip.mp4", 1);
    let endpoint = format!("https://127.0.0.1:{}", tls.port);

    // S3 over TLS to the untrusted server.
    let config = NodeConfig::default()
        .set("device", "id", "tls")
        .set("device", "name", "TLS")
        .set("kafka", "bootstrap_servers", stack.kafka_bootstrap.as_str())
        .set("s3", "bucket", "b")
        .set("s3", "endpoint", endpoint.as_str())
        .set("s3", "access_key_id", "k")
        .write(&dir.path().join("s3"));
    let (ok, text) = output(
        Command::new(bin("edge-node"))
            .args(["publish", "--config"])
            .arg(&config)
            .arg("--clip")
            .arg(&clip)
            .env("EDGE_NODE_S3_SECRET_KEY", "s"),
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("invalid peer certificate: UnknownIssuer"),
        "{text}"
    );

    // Kafka over TLS (SASL_SSL) to the untrusted server, with the real S3 for the upload.
    let targets = Targets {
        kafka: format!("127.0.0.1:{}", tls.port),
        ..Targets::stack()
    };
    let config = NodeConfig::device("tls", "TLS", &targets)
        .set("kafka", "security", "sasl_ssl")
        .set("kafka", "username", "u")
        .write(&dir.path().join("kafka"));
    let (ok, text) = output(
        Command::new(bin("edge-node"))
            .args(["publish", "--kafka-timeout", "5", "--config"])
            .arg(&config)
            .arg("--clip")
            .arg(&clip)
            .env("EDGE_NODE_S3_SECRET_KEY", &stack.secret_key)
            .env("EDGE_NODE_KAFKA_PASSWORD", "p"),
    );
    assert!(!ok, "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("was not delivered") && last.contains("certificate verify failed"),
        "the final error does not say why: {last}"
    );
}
