"""A sandbox seed with many customers of one Solution Partner, and a profile for each.

The partner's single app serves every customer's WABA (as on the real platform, where one app
has exactly one webhook endpoint); each customer has its own business, WABA, number, PIN and a
business token scoped to its WABA. Used by the batch benchmarks and for rehearsing big batches.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

PARTNER_BUSINESS = "109000000000000"
PARTNER_APP = "309000000000000"
CONSUMER = "+16505550100"


def write_fleet(count: int, folder: str | Path, *, prefix: str = "fleet",
                templates: bool = False) -> tuple[Path, list[Path]]:
    """Write `seed.yaml` and `<prefix>-NNN.yaml` profiles for `count` customers; return their paths.

    `templates`: each profile also asks step 12 for a first utility template of its own, so the batch
    creates one per customer (the faults benchmark counts them); without, 12 only lists.
    """
    if not 1 <= count <= 9999:
        raise ValueError("count must be between 1 and 9999")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env_prefix = prefix.upper().replace("-", "_")
    businesses = [{
        "id": PARTNER_BUSINESS, "name": "Partner Solutions", "terms_of_service_accepted": True,
        "apps": [{"id": PARTNER_APP, "name": "Partner Onboarding App",
                  "secret": {"env": "PARTNER_APP_SECRET", "value": "sandbox-partner-app-secret-not-real"}}],
    }]
    profiles = []
    for n in range(1, count + 1):
        slug, env = f"{prefix}-{n:03d}", f"{env_prefix}_{n:03d}"
        business, waba, phone = f"11{n:013d}", f"21{n:013d}", f"41{n:013d}"
        display = f"+1 555-{n // 10000:03d}-{n % 10000:04d}"
        # Any six digits: redaction and the leak scan only match a PIN standing alone, never inside an ID.
        pin = "".join(str(b % 10) for b in hashlib.sha256(f"{prefix}-{n}".encode()).digest()[:6])
        businesses.append({
            "id": business, "name": f"Customer {n:03d}", "terms_of_service_accepted": True,
            "tokens": [{"access_token": {"env": f"{env}_TOKEN", "value": f"SANDBOX-{slug}-business-token-not-real"},
                        "type": "SYSTEM_USER", "app_id": PARTNER_APP, "user_id": f"51{n:013d}",
                        "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
                        "target_ids": [waba], "expires_at": 0}],
            "wabas": [{"id": waba, "name": f"Customer {n:03d}",
                       "templates": [{"name": "hello_world", "language": "en_US", "category": "UTILITY"}],
                       "phone_numbers": [{"id": phone, "display_phone_number": display,
                                          "verified_name": f"Customer {n:03d}", "code_verification_status": "VERIFIED",
                                          "registered": False, "name_status": "APPROVED",
                                          "pin": {"env": f"{env}_PIN", "value": pin}}]}],
        })
        profile = {
            "customer": slug, "business_id": business, "waba_id": waba, "app_id": PARTNER_APP,
            "display_phone_number": display, "token_env": f"{env}_TOKEN", "pin_env": f"{env}_PIN",
            "app_secret_env": "PARTNER_APP_SECRET", "verify_token_env": "PARTNER_VERIFY_TOKEN",
            "consumer_number": CONSUMER, "message_text": f"hello from customer {n:03d}!", "onboarding": "new",
            "expected_peak_mps": 10, "compliance": ["GDPR"], "features": ["text", "templates"],
        }
        if templates:
            profile.update(first_template_name="order_update", first_template_language="en_US",
                           first_template_body=f"Customer {n:03d}: your order {{{{1}}}} is on its way.")
        path = folder / f"{slug}.yaml"
        path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
        profiles.append(path)
    seed = {"consumers": [{"wa_id": CONSUMER.lstrip("+"), "name": "Alex Rivera"}],
            "customer_env": {"PARTNER_VERIFY_TOKEN": "sandbox-partner-verify-token"},
            "businesses": businesses}
    seed_path = folder / "seed.yaml"
    seed_path.write_text(yaml.safe_dump(seed, sort_keys=False), encoding="utf-8")
    return seed_path, profiles
