#![allow(clippy::unwrap_used)]

use super::*;

#[track_caller]
fn attack(s: &str, expected: &str) {
    let d = xss(s).unwrap_or_else(|| panic!("missed: {s:?}"));
    assert_eq!(d.fingerprint, expected, "wrong check for {s:?}");
    assert_eq!(d.kind, DetectorKind::Xss);
    assert!(
        s.get(d.span.clone()).is_some(),
        "span {:?} not on char boundary",
        d.span
    );
}

#[track_caller]
fn benign(s: &str) {
    assert_eq!(
        xss(s).map(|d| d.fingerprint),
        None,
        "false positive on {s:?}"
    );
}

#[test]
fn dangerous_tags() {
    attack("<script>alert(1)</script>", "xss:dangerous-tag");
    attack("<ScRiPt src=//evil.example/x.js>", "xss:dangerous-tag");
    attack("\"><iframe src=//evil>", "xss:dangerous-tag");
    attack(
        "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
        "xss:dangerous-tag",
    );
    attack("<!--<script>-->", "xss:dangerous-tag");
    attack("<base href=//evil/>", "xss:dangerous-tag");
}

#[test]
fn event_handlers() {
    attack("<svg/onload=alert(1)>", "xss:event-handler");
    attack("<img src=x onerror=alert(1)//", "xss:event-handler");
    attack("<body onpageshow = \"alert(1)\">", "xss:event-handler");
    attack(
        "<x ondeactivate=alert(1) contenteditable>",
        "xss:event-handler",
    );
    attack("\" autofocus onfocus=\"alert(1)", "xss:event-handler");
    attack("' onmouseover='alert(document.cookie)", "xss:event-handler");
    attack("x onmouseover=alert(1)", "xss:event-handler");
}

#[test]
fn script_urls() {
    attack("<a href=\"javascript:alert(1)\">x</a>", "xss:script-url");
    attack(
        "<a href=\"jav&#x09;ascript&colon;alert(1)\">",
        "xss:script-url",
    );
    attack(
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">",
        "xss:script-url",
    );
    attack(
        "<form><button formaction=\"java\nscript:alert(1)\">",
        "xss:script-url",
    );
    attack(" javascript:alert(1)", "xss:script-url");
    attack(
        "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">",
        "xss:data-url",
    );
    attack("data:text/html,<b>", "xss:data-url");
    attack(
        "<div style=\"width: expression(alert(1))\">",
        "xss:style-script",
    );
    attack(
        "<div style=\"x:\\65 xpression(alert(1))\">",
        "xss:style-script",
    );
    attack("<iframe srcdoc=\"&lt;script&gt;\">", "xss:dangerous-tag");
    attack("<p srcdoc=\"x\">", "xss:srcdoc");
}

#[test]
fn javascript_contexts() {
    attack("\";alert(1)//", "xss:js-breakout");
    attack("'-alert(1)-'", "xss:js-breakout");
    attack(
        "\\';alert(String.fromCharCode(88,83,83))//",
        "xss:js-breakout",
    );
    attack("${alert(document.domain)}", "xss:js-template");
    attack("alert(1)", "xss:js-call");
    attack("eval(atob('YWxlcnQoMSk='))", "xss:js-call");
    attack("'+top['al'+'ert'](1)+'", "xss:js-breakout");
    attack(
        "[][(![]+[])[+[]]+(![]+[])[!+[]+!+[]]]",
        "xss:js-obfuscation",
    );
}

#[test]
fn filter_evasions() {
    attack(
        "onanimationiteration=\"alert(1)\"></p>",
        "xss:event-handler",
    );
    attack("<scr<script>ipt>alert(1)</script/x>", "xss:dangerous-tag");
    attack(
        "<a href=\"about:<script>document.vulnerable=true;</script>\">bb",
        "xss:dangerous-tag",
    );
    attack("<IMG SRC=\"jav    ascript:alert(1);\">", "xss:script-url");
    attack(
        "<IMG SRC= onmouseover=\"alert('xxs')\">",
        "xss:event-handler",
    );
    attack(
        "<ahref=\"javascript:window[/alert/.source]()\">X</a>",
        "xss:script-url",
    );
    attack(
        "https://evil.com/search?q=test;onfocus=eval(atob('YWxlcnQoMSk='))",
        "xss:event-handler",
    );
    attack("  onload=  ", "xss:event-handler");
    attack(
        "\"])}catch(e){if(!this.x)confirm(document.domain),this.x=1}//",
        "xss:js-call",
    );
    attack("{{constructor.constructor(alert`1`)()}}", "xss:js-call");
    attack("true));alert(1)</script>", "xss:dangerous-tag");
    attack("getURL(\"javascript:alert('XSS')\")", "xss:script-url");
    attack(
        "-moz-binding:url(http://example.com/xss.xml#xss)",
        "xss:style-script",
    );
    attack(
        "XSS-STYLE=xss:e/**/xpression(alert(1))>",
        "xss:style-script",
    );
    attack("<v:vmlframe src=\"foo.com/sup.fml\"/>", "xss:dangerous-tag");
    attack(
        "v&newline;b&tab;s&newline;c&newline;r&tab;i&tab;p&newline;t&colon;:",
        "xss:script-url",
    );
    attack("<link rel=import href=//evil/x.html>", "xss:dangerous-tag");
    attack(
        "<meta http-equiv=\"refresh\" content=\"0;url=//evil\">",
        "xss:dangerous-tag",
    );
}

#[test]
fn clinical_markup_passes() {
    for s in [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Patient is <b>stable</b>.</p></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><table style=\"border: 1px solid black\"><tr><td>BP</td><td>120/80</td></tr></table></div>",
        "<text><paragraph>Allergy to <content ID=\"a1\" styleCode=\"Bold\">penicillin</content></paragraph><list><item>Hives</item></list></text>",
        "<a href=\"https://example.org/fhir/Patient/123\">link</a>",
        "<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"chart\"/>",
        "if a < b and b > c",
        "BP<140/90, HR <100",
        "john.doe@example.com",
        "(555)-555-1234",
        "Patient alert and oriented x3",
        "Patient alert (oriented x3)",
        "Time of onset=3 days",
        "He said \"stop\" onset=(3 days)",
        "http://hl7.org/fhir/StructureDefinition/us-core-patient",
        "urn:oid:2.16.840.1.113883.6.1",
        "Eggs (edible) (substance)",
        "<Patient name>",
        "value[x]: string",
        "Results: [1] [2] (see note)",
        "print(out) of results",
        "print(2 copies)",
        "open(3) wounds",
        "<Bundle xmlns=\"http://hl7.org/fhir\"><meta><lastUpdated value=\"2024-01-01\"/></meta><link><relation value=\"self\"/><url value=\"https://x/fhir\"/></link></Bundle>",
        "Carry on=continue; onset=sudden",
        "Facial expression (observable entity)",
        "Mother's expression (finding); alert",
    ] {
        benign(s);
    }
}

#[test]
fn prefilter() {
    assert!(!xss_candidate(b"plain words only"));
    assert!(xss_candidate(b"<b>"));
}
