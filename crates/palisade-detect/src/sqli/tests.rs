#![allow(clippy::unwrap_used)]

use super::*;

fn fp(s: &str) -> Option<&'static str> {
    sqli(s).map(|d| d.fingerprint)
}

#[track_caller]
fn attack(s: &str, expected: &str) {
    let d = sqli(s).unwrap_or_else(|| panic!("missed: {s:?}"));
    assert_eq!(d.fingerprint, expected, "wrong check for {s:?}");
    assert_eq!(d.kind, DetectorKind::Sqli);
    assert!(
        s.get(d.span.clone()).is_some(),
        "span {:?} not on char boundary",
        d.span
    );
}

#[track_caller]
fn benign(s: &str) {
    assert_eq!(fp(s), None, "false positive on {s:?}");
}

#[test]
fn union_select() {
    attack(
        "-1 UNION SELECT username, password FROM users--",
        "sqli:union-select",
    );
    attack(
        "1' union all select null,null,null-- -",
        "sqli:union-select",
    );
    attack("1/**/UnIoN/**/SeLeCt/**/1,2,3", "sqli:union-select");
    attack("') union select @@version#", "sqli:union-select");
}

#[test]
fn stacked_queries() {
    attack("1; DROP TABLE patients--", "sqli:stacked-query");
    attack("x'; exec master..xp_cmdshell 'dir'--", "sqli:stacked-query");
    attack("1;waitfor delay '0:0:5'--", "sqli:stacked-query");
    attack(
        "'; insert into users values('a','b')--",
        "sqli:stacked-query",
    );
    attack("1; declare @q varchar(99)", "sqli:stacked-query");
    attack("'; update users set role='admin'--", "sqli:stacked-query");
    attack(
        "1; insert into users(name) values('x')",
        "sqli:stacked-query",
    );
    attack(
        "1; insert into audit select * from users--",
        "sqli:stacked-query",
    );
}

#[test]
fn statement_words_in_intake_form_prose_are_not_stacked_queries() {
    for text in [
        "Allergy noted; insert into chart",
        "Discussed; update chart set to reflect new dose",
        "Union Hospital summary attached; select records from 2019-2022 requested",
        "Done; delete from my list please",
        "Pt to pick a slot; select morning from the options",
    ] {
        assert_eq!(sqli(text), None, "{text}");
    }
}

#[test]
fn time_based() {
    attack("1 and sleep(5)", "sqli:time-delay");
    attack(
        "1' AND (SELECT 1 FROM (SELECT(SLEEP(5)))a)-- x",
        "sqli:subquery",
    );
    attack("pg_sleep(10)--", "sqli:time-delay");
    attack("1 or benchmark(5000000,md5(1))", "sqli:time-delay");
    attack("1) waitfor delay '0:0:10'", "sqli:time-delay");
}

#[test]
fn tautologies() {
    attack("' or 'a'='a", "sqli:tautology");
    attack("1 or 1=1", "sqli:tautology");
    attack("admin\" or \"1\"=\"1\"--", "sqli:tautology");
    attack("1 or true", "sqli:tautology");
    attack("x' OR 2>1 -- ", "sqli:tautology");
    attack("1) AND 8312=8312 AND (3241=3241", "sqli:tautology");
    attack("' or ''='", "sqli:tautology");
}

#[test]
fn breakouts_and_probes() {
    attack("admin'--", "sqli:breakout-comment");
    attack("admin')#", "sqli:breakout-comment");
    attack(
        "x' and substring(user(),1,1)='a' and '1",
        "sqli:boolean-probe",
    );
    attack("x' and username like '%adm", "sqli:breakout-logic");
    attack("2'OR'a='a", "sqli:breakout-logic");
    attack("A' = 'B", "sqli:breakout-logic");
    attack("' && '", "sqli:breakout-logic");
    attack("aa'=+'1", "sqli:breakout-logic");
    attack("1' -1 or '1", "sqli:tautology");
    attack("1 OR+(1)=(1)", "sqli:tautology");
    attack("( 1 OR 1 )  --", "sqli:tautology");
    attack("FOO,IIF(2510=9436,FOO,1/0)", "sqli:boolean-probe");
    attack(
        "(CASE WHEN 4518=5617 THEN 1 ELSE NULL END)",
        "sqli:tautology",
    );
    attack("1234.5) ORDER BY 1", "sqli:order-by");
    attack("select -sin((id)),2 from bar where", "sqli:statement");
    attack(
        " AND 5650=CONVERT(INT,(SELECT CHAR(88)))#",
        "sqli:boolean-probe",
    );
    attack("1 and left(version(),1)=4", "sqli:boolean-probe");
    attack("(1)and(1)=(1)--", "sqli:tautology");
    attack("1\u{a0}and\u{a0}1=1\u{a0}--", "sqli:tautology");
    attack(
        ",cast(chr(126)||version()||chr(126) as numeric)",
        "sqli:info-function",
    );
    attack("password::int", "sqli:pg-cast");
    attack("OR '{\"b\":2}' <@ '{\"a\":1}'", "sqli:tautology");
    attack(
        "1.e(ascii 1.e(substring(1.e(select password from users)))) = 70",
        "sqli:numeric-bypass",
    );
    attack("ORDER BY SLEEP(5)#", "sqli:time-delay");
    attack(" ORDER BY 1 ", "sqli:order-by");
    attack("select session_user;", "sqli:statement");
    attack("FROM INFORMATION_SCHEMA.tables", "sqli:catalog");
    attack("exec master..xp_cmdshell 'dir'", "sqli:statement");
    attack("UnIon seleCt", "sqli:union-select");
    attack(
        " UNION ALL SELECT 'INJ'||'ECT'||'XXX',2",
        "sqli:union-select",
    );
    attack("procedure analyse (", "sqli:statement");
    attack("/CREATE TABLE Persons (id int)", "sqli:statement");
    attack("select(user(", "sqli:info-function");
    attack("from `information_schema`", "sqli:catalog");
    attack("'x'!='y", "sqli:tautology");
    attack(
        "ALTER TABLE `t` ADD `video` TEXT CHARACTER SET latin1",
        "sqli:statement",
    );
    attack("x AS `edit_user_id` from t", "sqli:statement");
    attack(
        "1234 AS \"foobar\" FROM tablevar2=whatever",
        "sqli:statement",
    );
    attack("1 ORDER BY 5#", "sqli:order-by");
    attack("select * from users", "sqli:statement");
    attack(
        "1 and extractvalue(1,concat(0x7e,version()))",
        "sqli:dangerous-function",
    );
    attack("1 union/*!50000select*/ 1", "sqli:union-select");
    attack("1 /*!32302and*/ 2", "sqli:mysql-comment");
    attack("x' into outfile '/tmp/x", "sqli:into-outfile");
    attack(
        "1 and 1 in (select table_name from information_schema.tables)",
        "sqli:subquery",
    );
}

#[test]
fn clinical_text_passes() {
    for s in [
        "Eggs (edible) (substance)",
        "select specialty hospital",
        "Select Specialty Hospital - Durham",
        "O'Reilly",
        "patient/*.rs",
        "patient/*.read user/Practitioner.read launch/patient openid fhirUser",
        "(USCDI) Time period when name was/is in use",
        "drop in blood pressure; watch for dizziness",
        "PID|1||12345^^^MRN||Doe^John",
        "(555)-555-1234",
        "006--u-1234",
        "Take 1 or 2 tablets by mouth; may repeat",
        "Take 1 or 2",
        "BP 120/80 -- improving",
        "name.exists() or text.exists()",
        "code = 'abc' or code = 'def'",
        "Patient's wife's sister; update chart tomorrow",
        "Select one",
        "(select all that apply)",
        "Union Hospital of Cecil County",
        "Mother's or father's side",
        "between 5' and 6' tall",
        "sleep (8 hours)",
        "poor sleep(5 nights)",
        "It is true",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "x < 5 and y > 7",
        "#3 - left knee",
        "Dose: 5 mg/kg/day = 20 mg",
        "\"quoted\" text and \"more\"",
        "contained.where((('#'+id in (%resource.descendants().reference)).not()).trace('unmatched', id).empty()",
        "user(s) of the device",
        "Facial expression (observable entity)",
        "A -> B -> C",
        "Create table of contents",
        "known as \"Bud\" from Texas",
        "'no' = 'yes",
        "the 'A' or 'B' option",
        "software\" and \"commercial computer software documentation,\" as such",
        "gzip: add \"--keep\" option to retain (don't delete) input files",
        "comments to look like \"# Copyright (C)",
        "in service files' Exec lines (fd.o #83539; Milan Crha)",
        "added a \"|| true\" on a shell command",
        "Removed '# undef HAVE_STDARG' before '# include \"config.h\"' when it",
        "select a compiler (before it may be chosen from __GMP_CC).",
        "Select a time (from 9am)",
        "Fixed `dpkg-deb --help' and dpkg-deb(1) from reporting --no-check",
        "`like this' or ``like this''.",
        "to\" -- that is, the subject of the sentence",
        "Bugfix: if the \"select\" method was used on Windows and an error",
        "var=\"HTTP_...\" default=\"\"' and 'echo var=\"REMOTE_ADDR\"' commands are",
        "Show names of groups when changing users' group ids (closes: #217511).",
        "the cases where \"$PTHREAD_CC\" != \"$CC\",",
        "of the XPath query is a boolean (XML::XPathEngine::Boolean), as",
        "Added IO::Socket::IP as a prerequisite rather than IO::Socket::INET",
        "Merge \"WebPCheckMalloc() and WebPCheckCalloc():\" into 0.2.0",
        "create index cards, usually by hand",
        "ml_get error when 'splitkeep' is \"screen\"",
        "sort: fix unlikely bug when '\\377' < 0",
        "exec (Closes: #1021821)",
        "putenv() string must contain '='",
        "from the output around '='.",
        "inside \"!=\".",
        "FOO BAR'# BLAH",
        "Git.pm: Implement Git::version()",
        "version(): added OS info support",
        "lib/strftime.c: Sync to textutils 2.0e.",
        "Change \"exec touch\" to",
        "Board meeting; exec summary",
        "descriptor `fd'.  It returns the number of bytes read, or -1",
        "using the GtkMenu::double-arrows style property",
        ".. code-block:: text",
        "\"Series 700\" radio button and select \"11.11\" from the",
        "Update bin/ scripts to use $LWP::VERSION instead of ->Version()",
        "Patients' or families' wishes",
    ] {
        benign(s);
    }
}

#[test]
fn prefilter_skips_plain_words() {
    assert!(!sqli_candidate(b"Hypertension"));
    assert!(sqli_candidate(b"1 union select 1"));
    assert!(sqli_candidate(b"a'b"));
}
