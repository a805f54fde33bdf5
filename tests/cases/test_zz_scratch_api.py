from tests.cases.test_api import api, bearer  # noqa
from tests.factories import make_officer
from core.api import register_paths

def test_scratch(api, session, now):
    h = bearer(session, make_officer(session), now)
    for p in ("/api/v1/cases/99999999999999999999999", "/api/v1/cases/2147483648/funds"):
        r = api.get(p, headers=h)
        print(p, r.status_code, r.json)
    r = api.post("/api/v1/cases/99999999999999999999/assets", json={}, headers=h)
    print(r.status_code, r.json)
    doc = api.get("/api/v1/openapi.json").json
    print(sorted(doc["paths"]))
    r = api.post("/api/v1/cases", json={"parties": [{"role": "debtor", "kind": "person", "name": "x", "id_number": "1", "email": "a\x00"}], "number": "x", "basis": "b", "filed_on": "2026-01-01", "claim_amount": "1"}, headers=h)
    print(r.status_code, r.json)
