//! `/files/<name>`: the files of `web.files_dir`, and nothing else.

use crate::{spawn_app, spawn_app_with};

#[tokio::test]
async fn files_of_the_files_dir_are_served_and_nothing_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("ExampleMod-1.0.zip"), b"PK\x05\x06zip bytes").unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"not for you").unwrap();
    std::fs::write(files.join(".hidden"), b"no").unwrap();
    let served = files.clone();
    let app = spawn_app_with(move |s| s.web.files_dir = Some(served)).await;

    let res = app.get("/files/ExampleMod-1.0.zip").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert_eq!(res.headers()["content-length"], "13");
    assert_eq!(&res.bytes().await.unwrap()[..], b"PK\x05\x06zip bytes");

    for path in [
        "/files/..%2Fsecret.txt",
        "/files/.hidden",
        "/files/missing.zip",
        "/files/",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn without_a_files_dir_there_are_no_files() {
    let app = spawn_app().await;
    assert_eq!(app.get("/files/ExampleMod-1.0.zip").await.status(), 404);
}
