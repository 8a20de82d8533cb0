"""Catalogue of Graph error codes met during onboarding: what each means and what to do.

Source: docs/meta-facts.md, "Errors" (Meta's error-code table and the Graph
error docs). Keyed by code, or by (code, subcode) where the subcode changes the advice.
`retryable` says whether the client retries the call by itself (transient codes only).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .i18n import _


@dataclass(frozen=True)
class Remedy:
    code: int
    subcode: int | None
    title: str
    remedy: str
    retryable: bool = False
    max_retries: int | None = None  # None: the client's default for retryable codes


def _r(code, title, remedy, *, subcode=None, retryable=False, max_retries=None) -> Remedy:
    return Remedy(code, subcode, title, remedy, retryable, max_retries)


_CATALOGUE: tuple[Remedy, ...] = (
    _r(0, "AuthException", "The token was rejected (expired, invalidated, or the user blocked the app). Generate a new system user token in Business settings > Users > System users."),
    _r(1, "API Unknown", "Invalid request or a temporary server problem. The call is retried a few times; if it persists, check the WhatsApp Business Platform status page, then the request's format. If Meta's message reads \"Error validating client secret\" (the Embedded Signup code exchange), the app secret is wrong: put the app's secret from App Dashboard > Settings > Basic in the variable named by app_secret_env.", retryable=True, max_retries=2),
    _r(2, "API Service", "Meta's service is temporarily down or overloaded. The call is retried with backoff; try again later if it still fails.", retryable=True),
    _r(3, "API Method", "Capability or permission issue. Run the token check (notebook 03) and confirm the app has whatsapp_business_management and whatsapp_business_messaging with advanced access.", ),
    _r(4, "API Too Many Calls", "The app reached its Graph API call rate limit. Wait (the client backs off and honours X-Business-Use-Case-Usage), and spread calls out; see App Dashboard > Application Rate Limit.", retryable=True),
    _r(15, "Must be called with an app access token", "This call (debug_token, the app's webhook subscriptions) needs an app access token (APP_ID|APP_SECRET), not a system user or business token. Check app_id and app_secret_env in the profile; the playbook builds the app token from them."),
    _r(101, "Invalid application ID", "Meta does not know the app ID. Copy app_id from App Dashboard > Settings > Basic into the customer's profile (digits only) and run again."),
    _r(104, "Access token required", "The call went out without an access token: the variable named by token_env is unset or empty in the shell (or kernel) that ran it. Export it (export WHATSAPP_TOKEN=...) and run again."),
    _r(10, "Permission Denied", "The permission is not granted or was removed. Check that the app passed App Review with advanced access and that the token carries both WhatsApp scopes; on a test number, allow-list the recipient."),
    _r(17, "User request limit reached", "The user-level Graph rate limit was hit. The client backs off; reduce the call rate.", retryable=True),
    _r(33, "Parameter value is not valid", "The business phone number ID is wrong or the number was deleted. List the WABA's numbers (notebook 06) and use an ID from there."),
    _r(100, "Invalid parameter", "A parameter is unsupported, misspelled or has a wrong value. Check the IDs and fields of the request against the Cloud API reference."),
    _r(100, "Unsupported request: wrong ID or asset not assigned", "The object ID does not exist or the token cannot see it. Check the WABA or phone number ID, then in Business settings > System users > Add assets assign the WABA (and the app) to the system user that issued the token.", subcode=33),
    _r(100, "Template already exists in this language", "A template of this name in this language is already on the WABA, perhaps created by an earlier or a parallel run: there is nothing to create. Read it back (GET /{WABA_ID}/message_templates?name=NAME) and use it; step 12 does so by itself. To change its content, edit that template, or create one under a new name.", subcode=2388024),
    _r(100, "Embedded Signup code expired", "The code from Embedded Signup was exchanged too late (it is short-lived, about 30 seconds). Exchange it for a token as soon as the signup's callback gives it to you; a new code needs the customer to finish Embedded Signup again.", subcode=36007),
    _r(100, "Embedded Signup code already used", "Each Embedded Signup code can be exchanged once, and this one already was: use the business token that first exchange returned (look where your backend stored it, not for a new code). Only if that token was lost, have the customer run Embedded Signup again.", subcode=36009),
    _r(190, "Access token invalid or expired", "The access token is not valid. Generate a system user token (Business settings > Users > System users > Generate token) with whatsapp_business_management and whatsapp_business_messaging, put it in the environment variable named by token_env, and re-run."),
    _r(190, "Access token has expired", "The token expired (the dashboard's temporary token lasts 24 hours). Generate a system user token with expiry 'never' (or 60 days) and both WhatsApp scopes, and store it in the environment variable named by token_env.", subcode=463),
    _r(190, "Session invalidated", "The session was invalidated (password changed or the user logged out). Generate a new system user token.", subcode=460),
    _r(190, "Invalid access token", "The token could not be validated. Generate a new system user token and check it was copied whole.", subcode=467),
    _r(190, "App not authorized", "The app is not authorized for this token. Re-generate the token for the right app.", subcode=458),
    _r(200, "API Permission", "Permission missing, or the system user was not given access to this WABA. In Business settings > System users > Add assets, assign the WABA with full control, then regenerate the token."),
    _r(368, "Temporarily blocked for policies violations", "The WhatsApp Business Account is restricted for policy reasons. Check Business Support Home for the violation and appeal there."),
    _r(2200, "Callback verification failed", "Meta's GET handshake against the callback URL failed: the endpoint must answer 200 with the hub.challenge value as the raw body (not JSON-quoted) when hub.verify_token matches, over HTTPS with a valid certificate. Run `python -m helpers webhooks check URL` to see which check fails."),
    _r(2500, "Unknown path components", "The URL's path is not a Graph endpoint: a wrong or empty ID (a profile field left blank), an edge misspelled, or a version prefix twice. Check the IDs in the profile and graph_version."),
    _r(80007, "Rate limit issues", "The WABA reached its Business Management API rate limit (200 calls/hour, 5,000 once a number is registered). The client waits as Meta asks; otherwise retry after the hour rolls over.", retryable=True),
    _r(80008, "Business use case rate limit", "The WhatsApp Business Management API usage limit was reached; wait for estimated_time_to_regain_access (minutes) in X-Business-Use-Case-Usage."),
    _r(130429, "Rate limit hit", "The number's message throughput was exceeded (80 messages/s by default, 1,000 after the automatic upgrade, 20 for numbers shared with the WhatsApp Business app). The client backs off briefly; pace sends below the limit.", retryable=True),
    _r(130429, "Rate limit hit (number's throughput)", "Meta tagged the send as over this number's throughput (subcode 2494055) and asks to retry after a moment: the client waits as the Retry-After header says and sends again. If it still fails, too many sends left this number at once: fewer customers sharing the number at a time (--workers), or pace the sends.", subcode=2494055, retryable=True),
    _r(130472, "User's number is part of an experiment", "Meta held this marketing message back as part of an experiment; nothing to fix. Send a different message type to test."),
    _r(130497, "Business account restricted from messaging users in this country", "Policy restriction for the recipient's country; contact Meta support for the WABA."),
    _r(131000, "Something went wrong", "Message failed for an unknown reason. The client retries a few times; if it persists, open a Direct Support ticket with the fbtrace_id.", retryable=True, max_retries=2),
    _r(131005, "Access denied", "The token lacks the permission. Regenerate it with whatsapp_business_messaging and whatsapp_business_management."),
    _r(131008, "Required parameter is missing", "A required parameter is missing (for example messaging_product: \"whatsapp\"). Fix the request body."),
    _r(131009, "Parameter value is not valid", "One or more parameter values are invalid. Check the phone number format (digits with country code) and the body."),
    _r(131016, "Service unavailable", "A service is temporarily unavailable. The client retries with backoff.", retryable=True),
    _r(131021, "Recipient cannot be sender", "The recipient is the business number itself. Send the test message to the consumer's WhatsApp number."),
    _r(131026, "Message Undeliverable", "The recipient could not receive it: not on WhatsApp, an old app version, has not accepted the new Terms, or blocked the business. Ask the consumer to update WhatsApp and message the business first."),
    _r(131030, "Recipient phone number not in allowed list", "Test numbers only message allow-listed recipients: add the consumer's number under WhatsApp > API Setup (up to 5). For Mexico (+52) and Argentina (+54) check the number's format."),
    _r(131030, "Recipient not in the test number's allowed list", "The sending number is a test number (subcode 2494055) and the recipient is not on its list of up to 5 allowed recipients: add the consumer's number under WhatsApp > API Setup > To, confirm it with the code WhatsApp sends them, then send again. A registered production number has no such list.", subcode=2494055),
    _r(131031, "Account has been locked", "The account is locked for policy reasons, or the request data does not match the WABA (for example a wrong two-step PIN). Check the PIN and Business Support Home."),
    _r(131037, "Display name not approved", "The number's display name needs approval before it can send. Check name_status in notebook 06 and wait for approval."),
    _r(131042, "Business eligibility payment issue", "No valid payment method, or the credit line was not shared and attached. A Solution Partner's customer: share and attach the partner's credit line to the WABA (notebook 07b); a business on its own: add a payment method in WhatsApp Manager > Payment settings. Then send again."),
    _r(132000, "Number of parameters does not match", "The template send gives a different number of variables than the approved template has. Send one parameter per {{n}} of the body."),
    _r(132001, "Template name does not exist in the translation", "No APPROVED template of that name in that language on the WABA (a template still in review cannot be sent). List the templates (notebook 12), create it or wait for its approval, and use its exact name and language code."),
    _r(132015, "Template is paused", "The template was paused for low quality. Edit it (or use another) in WhatsApp Manager; the template's quality_score and health_status say why."),
    _r(132016, "Template is disabled", "The template was disabled for repeated low quality. Create a new template with different content."),
    _r(131045, "Incorrect certificate", "The sending number is not registered on Cloud API. Register it (notebook 08), then send again."),
    _r(131047, "Re-engagement message", "More than 24 hours have passed since the consumer last wrote. Send an approved template such as hello_world, or have the consumer message the number first to open the 24-hour window."),
    _r(131048, "Spam rate limit hit", "Sending was limited because of quality signals. Improve message quality and wait before sending more."),
    _r(131049, "Per-user marketing limit", "Meta held this marketing message to protect the user's experience. Wait at least 24 hours before another marketing message to this user."),
    _r(131050, "User stopped marketing messages", "The user opted out of marketing messages from this business; do not retry."),
    _r(131051, "Unsupported message type", "The message type is not supported. Use text, template, media or interactive."),
    _r(131056, "Pair rate limit hit", "Too many messages to the same recipient in a short time (about 1 per 6 s). The client waits 4^n seconds; other recipients are unaffected.", retryable=True),
    _r(131057, "Account in maintenance mode", "The number is in maintenance (for example during the throughput upgrade, up to a minute). Retry shortly."),
    _r(133000, "Incomplete Deregistration", "A previous deregistration failed. Call deregister again, then register."),
    _r(133004, "Server Temporarily Unavailable", "The registration server is temporarily unavailable. The client retries; read the details for how long to wait.", retryable=True),
    _r(133005, "Two step verification PIN Mismatch", "The 6-digit two-step verification PIN is wrong. Use the PIN set for this number; if nobody knows it, reset it with POST /{PHONE_NUMBER_ID} {\"pin\": \"NEW_6_DIGITS\"} (helpers.set_two_step_pin) and register with the new PIN."),
    _r(133006, "Phone number re-verification needed", "The number must be verified before registering (code_verification_status is not VERIFIED, or it EXPIRED). Request a code (request_code, SMS or VOICE), enter it with verify_code, then register."),
    _r(133008, "Too Many two step verification PIN Guesses", "Too many wrong PINs for this number. Wait for the time given in the details before trying again, with the right PIN."),
    _r(133009, "Two step verification PIN Guessed Too Fast", "PIN attempts were too quick. Wait as the details say, then try once with the right PIN."),
    # health_status error codes (13 go-live, the portfolio): what Meta's `errors[]` of an entity say.
    _r(141006, "Payment method error", "health_status blocks the WABA: it has no valid payment method, so paid templates (business-initiated messages) fail with 131042. A Solution Partner's customer: share and attach the partner's credit line to the WABA (notebook 07b), then run 13 again; a business on its own: add a payment method in WhatsApp Manager > Payment settings."),
    _r(138024, "SIP calling not enabled on the number", "health_status says the number cannot receive WhatsApp calls over SIP (can_receive_call_sip BLOCKED). Messaging is not affected, and the go-live check does not count it. Only if the customer takes WhatsApp Business calls over SIP: enable SIP on the number with POST /{PHONE_NUMBER_ID}/settings."),
    _r(138025, "No SIP server configured for the app", "health_status says the app has no SIP server configured for this number (can_receive_call_sip BLOCKED). Messaging is not affected, and the go-live check does not count it. Only if the customer takes WhatsApp Business calls over SIP: configure the app's SIP server with POST /{PHONE_NUMBER_ID}/settings."),
    _r(133010, "Phone number Not Registered", "The number is not registered on the WhatsApp Business Platform. Register it (notebook 08) first."),
    _r(133015, "Phone number recently deleted", "The number was recently deleted and deletion has not finished. Wait about 5 minutes, then register."),
    _r(133016, "Account register deregister rate limit exceeded", "Too many register/deregister calls for this number (10 in a moving 72-hour window). Registration is blocked until the window clears; do not retry in a loop."),
    _r(135000, "Generic user error", "The request parameters caused an unknown error. Check the request body against the Cloud API reference."),
    _r(136024, "Too many code requests", "Too many verification code requests. Wait before requesting another; use the code already sent."),
    _r(136025, "Code couldn't be verified", "The verification code is wrong, expired or already used. Request a new code and enter it within 10 minutes."),
    _r(137000, "Identity key hash mismatch", "The recipient's identity changed and the identity check is enabled; confirm the recipient before resending."),
    _r(2388012, "Phone number already exists", "This phone number is already in the WABA's list. Use the existing phone number ID from notebook 06."),
    _r(2388103, "Cannot migrate phone number", "The number cannot be migrated (or the WABA reached its number cap). Check the number's platform and the WABA's limits."),
    _r(2494100, "Business phone number in maintenance mode", "The number is in maintenance mode. Try again in a few minutes."),
)

_BY_KEY: dict[tuple[int, int | None], Remedy] = {(r.code, r.subcode): r for r in _CATALOGUE}


def lookup(code: int | None, subcode: int | None = None) -> Remedy | None:
    """The catalogue entry for (code, subcode), falling back to the code alone; None if unknown.
    Its title and remedy are in the current language (helpers.i18n)."""
    if code is None:
        return None
    return _translated(_BY_KEY.get((code, subcode)) or _BY_KEY.get((code, None)) or (
        _BY_KEY.get((200, None)) if 200 <= code <= 299 else None
    ))


def lookup_exact(code: int | None, subcode: int | None = None) -> Remedy | None:
    """The entry written for exactly (code, subcode): no fallback to the code alone."""
    return _translated(_BY_KEY.get((code, subcode))) if code is not None else None


def _translated(entry: Remedy | None) -> Remedy | None:
    return None if entry is None else replace(entry, title=_(entry.title), remedy=_(entry.remedy))


def catalogue() -> list[Remedy]:
    """Every entry, for tables and docs."""
    return list(_CATALOGUE)


# ---- our own errors --------------------------------------------------------------------------
# What to do about a failure that is not a Graph error, worded for where the user is: "shell"
# (a terminal, `python -m helpers run`, papermill) or "lab" (JupyterLab or Voilà, with the form).
# Keyed by the error's kind (the exception class name the records carry).

@dataclass(frozen=True)
class OwnRemedy:
    kind: str
    title: str
    shell: str
    lab: str

    def texts(self) -> tuple[str, str, str]:
        return self.title, self.shell, self.lab


_OWN: tuple[OwnRemedy, ...] = (
    OwnRemedy("MissingSecretError", "Secret not set",
              "Set it in the shell that runs the playbook: export {env}=... (the value, never in a file or "
              "the profile), then run again.",
              "Type it into the form's password field for {env} and run the step again (or export {env}=... "
              "before starting JupyterLab)."),
    OwnRemedy("ConfigError", "Wrong or missing input",
              "Fix the value named above in the customer profile (or pass it with -p NAME VALUE), then run again.",
              "Fix the value named above in the form (or the parameters cell), then run the step again."),
    OwnRemedy("NetworkError", "Graph API unreachable",
              "Check that graph_url answers from this machine (address, proxy, VPN, firewall), then run again "
              "(a batch: --resume the batch folder).",
              "Check that graph_url answers from this machine (address, proxy, VPN, firewall), then run the step "
              "again."),
    OwnRemedy("StepCheckFailed", "The step's check failed",
              "Open the step's notebook in the batch folder, fix what its verdict names, then run again with "
              "--resume.",
              "Read the verdict and the tables above, fix what they name, then run the step again."),
    OwnRemedy("WebhookWaitTimeout", "No webhook in time",
              "Check that 04_webhooks and 05_subscribe_waba passed for this customer (callback saved, app "
              "subscribed) and that the callback reaches the receiver whose webhook_db the step reads; give a "
              "larger wait_seconds if the phone is slow, then run again with --resume.",
              "Check that 04_webhooks and 05_subscribe_waba passed (callback saved, app subscribed) and that the "
              "callback reaches the receiver whose webhook store is in the form; give a larger wait, then Run "
              "again."),
    OwnRemedy("CellTimeoutError", "Timed out",
              "The step ran past --timeout: check that graph_url answers promptly, or give a larger --timeout, "
              "then run again with --resume.",
              "The cell ran too long: check that graph_url answers promptly, then run the step again."),
    OwnRemedy("StepTimeout", "Timed out",
              "The step ran past --timeout: check that graph_url answers promptly, or give a larger --timeout, "
              "then run again with --resume.",
              "The step ran too long: check that graph_url answers promptly, then run the step again."),
    OwnRemedy("DeadKernelError", "The kernel died",
              "The step's Python kernel stopped (out of memory, or killed): run again with --resume; if it happens "
              "again, open the notebook in JupyterLab to see where.",
              "The kernel stopped (out of memory, or killed): restart it (Kernel > Restart) and run the step again."),
    OwnRemedy("MissingRecord", "No result record",
              "The notebook ran without writing its record: check that run_dir reaches it (an edited notebook?), "
              "then run again with --resume.",
              "Set run_dir so the step can write its record, then run the step again."),
    OwnRemedy("SecretLeak", "A secret reached the output",
              "A cell printed a secret's value, so the files were removed: print names of environment variables, "
              "never their values, rotate that secret, then run again.",
              "A cell printed a secret's value: clear the output, print only names of environment variables, "
              "and rotate that secret."),
    OwnRemedy("MessageMayHaveBeenSentError", "Send outcome unknown",
              "Check the status webhooks (or the consumer's phone) before sending again.",
              "Check the status webhooks (or the consumer's phone) before sending again."),
    OwnRemedy("SupervisorError", "A helper process did not start",
              "Read the end of its log quoted above, fix what it names (a port in use, a missing package), "
              "then run again.",
              "Read the end of its log quoted above, fix what it names, then run the step again."),
    OwnRemedy("TemplateRejected", "Template rejected in review",
              "Read rejected_reason in the table above, fix the template body in the profile (first_template_body) "
              "and give it a new first_template_name (a rejected name stays taken), then run again with --resume.",
              "Read rejected_reason in the table above, fix the body and give a new template name in the form, "
              "then run the step again."),
    OwnRemedy("HealthStatusBlocked", "Messaging is blocked",
              "Do what possible_solution says for the blocked entity in the table above, then run again with --resume.",
              "Do what possible_solution says for the blocked entity in the table above, then run the step again."),
    OwnRemedy("ApiVersionExpired", "API version expired",
              "Set api_version to {version} (or a later published version) in the profile or with "
              "-p api_version {version}, then run again.",
              "Set api_version to {version} (or a later published version) in the form or the profile, "
              "then run the step again."),
)

_OWN_BY_KIND = {entry.kind: entry for entry in _OWN}
_FALLBACK = OwnRemedy("", "Unexpected error",
                      "This is not a failure the playbook knows: the record holds the full traceback; "
                      "report it with the record attached.",
                      "This is not a failure the playbook knows: the full traceback is in the step's record; "
                      "report it with the record attached.")
# Kinds that are a flavour of another one for the advice.
_ALIASES = {"AssertionError": "StepCheckFailed", "StepFailed": "StepCheckFailed", "LabError": "SupervisorError",
            "PapermillExecutionError": "StepCheckFailed"}


def own_remedy(kind: str | None, *, where: str = "shell", **names: str) -> OwnRemedy:
    """The catalogue entry for one of our own error kinds, with {env}/{version} filled in."""
    entry = _OWN_BY_KIND.get(_ALIASES.get(kind or "", kind or ""), _FALLBACK)
    source = entry.lab if where == "lab" else entry.shell
    text = _(source)
    filled = {"env": "THE_VARIABLE", "version": _("the current version"), **{k: v for k, v in names.items() if v}}
    return OwnRemedy(entry.kind, _(entry.title), text.format(**filled), text.format(**filled))


def remedy_text(kind: str | None, *, where: str = "shell", **names: str) -> str:
    return own_remedy(kind, where=where, **names).shell


# What Meta's template review reasons mean (rejected_reason, the status webhook's reason) and what to change.
TEMPLATE_REJECTIONS: dict[str, str] = {
    "INVALID_FORMAT": "The body's format was refused: number the variables {{1}}, {{2}}, ... in order without gaps, "
                      "give each a sample value, and do not start or end the body with a variable.",
    "INCORRECT_CATEGORY": "The content does not fit the category: a UTILITY template must be about a transaction or "
                          "account the consumer has (no offers, discounts or promotions); use MARKETING for those.",
    "TAG_CONTENT_MISMATCH": "The content does not match the category chosen. Choose the category that fits, or "
                            "reword the body.",
    "PROMOTIONAL": "Promotional wording in a non-marketing template. Remove it, or create the template as MARKETING.",
    "ABUSIVE_CONTENT": "The content breaks WhatsApp's Business and Commerce Policies. Rewrite it.",
    "SCAM": "The content looks like a scam to the review. Rewrite it plainly, with the business named.",
}


def template_rejection(reason: str | None) -> str:
    """What to do about a template rejected for `reason` (Meta's rejected_reason)."""
    return _(TEMPLATE_REJECTIONS.get(str(reason or "").upper(), _TEMPLATE_REJECTION_FALLBACK))


_TEMPLATE_REJECTION_FALLBACK = ("Read the rejection in WhatsApp Manager > Message templates, change the template, "
                                "and submit it again under a new name.")


def own_catalogue() -> list[OwnRemedy]:
    """Every entry for our own errors (and the fallback), for tables and docs."""
    return [*_OWN, _FALLBACK]


def template_rejections() -> list[str]:
    """What template_rejection can answer, for the translation catalogue."""
    return [*TEMPLATE_REJECTIONS.values(), _TEMPLATE_REJECTION_FALLBACK]
