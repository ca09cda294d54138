//! The S3 server: the bucket is private (no anonymous access), the desktop's read-only key
//! reads but never writes, and a request signed with the wrong secret is refused.

use motion_e2e::{unique, Stack};
use motion_event::settings::Secret;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

fn store(settings: &motion_event::settings::S3Settings) -> impl ObjectStore {
    motion_e2e::s3_store(settings)
}

#[tokio::test]
async fn the_bucket_is_private_and_the_read_key_only_reads() {
    let stack = Stack::get();
    let settings = stack.s3();
    let store = store(&settings);
    let key = format!("e2e/{}.bin", unique("object"));
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put(
            &ObjectPath::from(key.as_str()),
            PutPayload::from(body.clone()),
        )
        .await
        .expect("signed put");

    let signed = store
        .get(&ObjectPath::from(key.as_str()))
        .await
        .expect("signed get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(signed.as_ref(), body.as_slice());

    // Footage is private: the URL in an event does not play as it is.
    let url = settings.object_url(&key);
    let resp = reqwest::get(&url).await.expect("anonymous get");
    assert_eq!(resp.status(), 403, "anonymous read of {url}");
    let resp = reqwest::Client::new()
        .put(&url)
        .body("anonymous")
        .send()
        .await
        .expect("anonymous put");
    assert_eq!(resp.status(), 403, "anonymous write of {url}");

    // The desktop app's key reads it...
    let reader = motion_e2e::s3_store(&stack.s3_reader());
    let read = reader
        .get(&ObjectPath::from(key.as_str()))
        .await
        .expect("get with the read-only key")
        .bytes()
        .await
        .expect("body");
    assert_eq!(read.as_ref(), body.as_slice());
    // ...and can neither overwrite nor delete it.
    for (what, result) in [
        (
            "put",
            reader
                .put(
                    &ObjectPath::from(key.as_str()),
                    PutPayload::from_static(b"x"),
                )
                .await
                .map(|_| ()),
        ),
        (
            "delete",
            reader.delete(&ObjectPath::from(key.as_str())).await,
        ),
    ] {
        let err = result.expect_err(&format!("the read-only key must not {what}"));
        let text = format!("{err:?}");
        assert!(
            text.contains("AccessDenied"),
            "{what}: expected AccessDenied, got {text}"
        );
    }
    let still = store
        .get(&ObjectPath::from(key.as_str()))
        .await
        .expect("still there")
        .bytes()
        .await
        .expect("body");
    assert_eq!(still.as_ref(), body.as_slice());
}

#[tokio::test]
async fn a_request_signed_with_a_wrong_secret_is_refused_with_403() {
    let stack = Stack::get();
    let mut settings = stack.s3();
    settings.secret_access_key = Secret::new("not-the-secret");
    let key = format!("e2e/{}.bin", unique("forged"));
    let err = store(&settings)
        .put(
            &ObjectPath::from(key.as_str()),
            PutPayload::from_static(b"forged"),
        )
        .await
        .expect_err("the server must refuse a wrong signature");
    let text = format!("{err:?}");
    assert!(text.contains("403"), "expected HTTP 403, got {text}");
    assert!(
        text.contains("SignatureDoesNotMatch"),
        "expected a signature error, got {text}"
    );

    // And nothing was stored under that key.
    let err = store(&stack.s3())
        .head(&ObjectPath::from(key.as_str()))
        .await
        .expect_err("nothing stored");
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "expected not found, got {err:?}"
    );
}
