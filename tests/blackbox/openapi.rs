//! The committed OpenAPI document is what the server serves, and it covers every route.

use headway_tests::TestApp;

fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}; run `make openapi`"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_committed_document_matches_the_served_one() {
    let app = TestApp::spawn();
    let served = app.send(app.http.get(app.url("/openapi.json")));
    // Compared whole, reported briefly: a dump of both documents helps nobody.
    assert!(
        *served.ok(200) == committed(),
        "openapi/openapi.json differs from the served document: run `make openapi` and commit it"
    );
    let docs = app.send(app.http.get(app.url("/docs/")));
    assert_eq!(docs.status.as_u16(), 200);
    assert!(
        docs.text.contains("swagger-ui"),
        "Swagger UI is served from the binary"
    );
}

#[test]
fn every_documented_operation_is_served_and_documents_its_errors() {
    let app = TestApp::spawn();
    let doc = committed();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 15);
    let id = "01890a5d-ac96-774b-bcce-b302099a8057";
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { id } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            assert!(
                responses.keys().any(|c| c.starts_with('4')),
                "{method} {path} documents no 4xx"
            );
            assert!(
                responses.contains_key("500"),
                "{method} {path} documents no 500"
            );
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents no 401"
                );
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .unwrap_or(reqwest::Method::GET);
            let r = app.send(app.http.request(m, app.url(&concrete)));
            let status = r.status.as_u16();
            assert!(
                status != 404 && status != 405 || (status == 404 && !secured && path.contains('{')),
                "{method} {path} is not served: {status}"
            );
            if secured {
                assert_eq!(status, 401, "{method} {path} must require a token");
            }
        }
    }
}
