//! The S3 server: signed uploads work, anonymous downloads of clips work, and a request
//! signed with the wrong secret is refused.

use motion_e2e::{unique, Stack};
use motion_event::settings::Secret;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

fn store(settings: &motion_event::settings::S3Settings) -> impl ObjectStore {
    motion_e2e::s3_store(settings)
}

#[tokio::test]
async fn upload_then_download_signed_and_anonymous() {
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

    // Clip URLs in events must be fetchable as they are, by the app and by a browser.
    let resp = reqwest::get(settings.object_url(&key))
        .await
        .expect("anonymous get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.expect("body").as_ref(), body.as_slice());
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
    let resp = reqwest::get(stack.s3().object_url(&key))
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
}
