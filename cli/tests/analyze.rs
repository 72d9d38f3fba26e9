//! `netkan analyze-mod` as a person runs it, against a local server serving a zip built here.
#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use std::io::Write;
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, text) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    out.into_inner()
}

/// Serves `body` to every request on a free port; returns the URL of `/mod.zip`.
async fn serve(body: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mod.zip", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                sock.write_all(head.as_bytes()).await.unwrap();
                sock.write_all(&body).await.unwrap();
            });
        }
    });
    url
}

fn analyze(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netkan"))
        .arg("analyze-mod")
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("NETKAN_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_mod_prints_the_guessed_properties_as_yaml_or_json() {
    let url = serve(zip_of(&[
        ("GameData/Doge/Flags/doge.png", "png"),
        ("GameData/Doge/Doge.version", "{}"),
        (
            "GameData/Doge/parts.cfg",
            "PART\n{\n}\n@PART[x]:NEEDS[y] {}\n",
        ),
        ("GameData/Extra/x.dll", "MZ"),
        ("Ships/VAB/Doge Rocket.craft", "type = VAB\n"),
    ]))
    .await;
    let (ok, out, err) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || analyze(&["Doge", &url])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "identifier: Doge\n\
         $vref: '#/ckan/ksp-avc'\n\
         tags:\n  - parts\n  - plugin\n\
         depends:\n  - name: ModuleManager\n\
         install:\n  - find: GameData/Doge\n    install_to: GameData\n    filter_regexp: \\.craft$\n\
         \x20 - file: Ships/VAB/Doge Rocket.craft\n    install_to: Ships/VAB\n"
    );
    let (ok, out, err) = tokio::task::spawn_blocking(move || analyze(&["Doge", &url, "--json"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["identifier"], "Doge");
    assert_eq!(v["depends"], serde_json::json!([{"name": "ModuleManager"}]));
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_mod_names_a_download_that_is_not_a_zip() {
    let url = serve(b"<html>not found</html>".to_vec()).await;
    let (ok, _, err) = tokio::task::spawn_blocking(move || analyze(&["Doge", &url]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(err.contains("not a zip archive"), "{err}");
}
