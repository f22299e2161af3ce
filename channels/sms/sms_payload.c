#include "sms_payload.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../httpc.h"

/* GSM 03.38 (3GPP TS 23.038): one message carries 140 octets, 160 septets; a concatenated
 * message loses 6 octets to its UDH, leaving 153 septets or 67 UCS-2 units per part. */
#define GSM_SINGLE  160
#define GSM_MULTI   153
#define UCS2_SINGLE 70
#define UCS2_MULTI  67

/* ---- A small growable string ---------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = rp_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Percent-encodes everything outside RFC 3986's unreserved set. */
static void sb_encoded(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            sb_add(b, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_add(b, esc, 3);
        }
    }
}

static char *sb_take(struct sbuf *b)
{
    if (!b->p)
        return rp_strdup("");
    return b->p;
}

/* ---- Segments ------------------------------------------------------------------------------- */

/* Septets a code point takes in GSM 03.38: 1 in the default alphabet, 2 in the extension
 * table (escape + character), 0 when it has no GSM form. */
static int gsm_septets(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp == '\n' || cp == '\r')
            return 1;
        if (cp == '\f' || cp == '^' || cp == '{' || cp == '}' || cp == '\\' || cp == '[' ||
            cp == '~' || cp == ']' || cp == '|')
            return 2;
        if (cp < 0x20 || cp == '`' || cp == 0x7f)
            return 0;
        return 1;
    }
    static const uint16_t basic[] = {
        0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
        0x00C9, 0x00D1, 0x00D6, 0x00D8, 0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6,
        0x00E8, 0x00E9, 0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9, 0x00FC, 0x0393,
        0x0394, 0x0398, 0x039B, 0x039E, 0x03A0, 0x03A3, 0x03A6, 0x03A8, 0x03A9,
    };
    for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
        if (basic[i] == cp)
            return 1;
    return cp == 0x20AC ? 2 : 0; /* the euro sign is in the extension table */
}

/* Decodes one UTF-8 sequence at s; returns its length (at least 1) and sets *cp, or sets
 * *cp = 0xFFFD for a malformed one. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : v;
    return n;
}

/* Parts for characters of the given unit widths, filled greedily so no character straddles
 * two parts. */
static int count_parts(const char *body, int gsm, size_t single, size_t multi, size_t total)
{
    if (total <= single)
        return 1;
    int parts = 1;
    size_t used = 0;
    const unsigned char *p = (const unsigned char *)body;
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        size_t w = gsm ? (size_t)gsm_septets(cp) : (cp > 0xFFFF ? 2 : 1);
        if (used + w > multi) {
            parts++;
            used = 0;
        }
        used += w;
    }
    return parts;
}

void rp_sms_segments_count(const char *body, struct rp_sms_segments *out)
{
    size_t septets = 0, units = 0;
    int gsm = 1;
    const unsigned char *p = (const unsigned char *)(body ? body : "");
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        int s = gsm_septets(cp);
        if (s == 0)
            gsm = 0;
        septets += (size_t)s;
        units += cp > 0xFFFF ? 2 : 1;
    }
    const char *text = body ? body : "";
    if (gsm) {
        out->encoding = RP_SMS_GSM7;
        out->units = septets;
        out->parts = count_parts(text, 1, GSM_SINGLE, GSM_MULTI, septets);
    } else {
        out->encoding = RP_SMS_UCS2;
        out->units = units;
        out->parts = count_parts(text, 0, UCS2_SINGLE, UCS2_MULTI, units);
    }
}

const char *rp_sms_encoding_name(enum rp_sms_encoding encoding)
{
    return encoding == RP_SMS_GSM7 ? "GSM" : "UCS2";
}

/* ---- The send request ----------------------------------------------------------------------- */

static const char *nonempty_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

void rp_sms_sender_select(const json_t *content, const json_t *settings,
                          const char *messaging_service_sid, struct rp_sms_sender *out)
{
    static const struct {
        int from_settings;
        const char *key;
    } order[] = {
        {0, "OriginationNumber"},
        {0, "SenderId"},
        {1, "SenderId"},
        {1, "ShortCode"},
    };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *v = nonempty_member(order[i].from_settings ? settings : content, order[i].key);
        if (v) {
            out->kind = RP_SMS_SENDER_FROM;
            out->value = v;
            out->source = order[i].key;
            return;
        }
    }
    if (messaging_service_sid && *messaging_service_sid) {
        out->kind = RP_SMS_SENDER_SERVICE;
        out->value = messaging_service_sid;
        out->source = "sms.messaging_service_sid";
        return;
    }
    out->kind = RP_SMS_SENDER_NONE;
    out->value = NULL;
    out->source = NULL;
}

char *rp_sms_form_encode(const struct rp_sms_param *params, size_t n)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (!params[i].value)
            continue;
        if (b.len)
            sb_add(&b, "&", 1);
        sb_encoded(&b, params[i].name);
        sb_add(&b, "=", 1);
        sb_encoded(&b, params[i].value);
    }
    return sb_take(&b);
}

char *rp_sms_form_build(const struct rp_sms_message *m)
{
    int service = m->sender.kind == RP_SMS_SENDER_SERVICE;
    const char *callback = m->status_callback && *m->status_callback ? m->status_callback : NULL;
    struct rp_sms_param params[] = {
        {"To", (char *)m->to},
        {service ? "MessagingServiceSid" : "From", (char *)m->sender.value},
        {"Body", (char *)(m->body ? m->body : "")},
        {"StatusCallback", (char *)callback},
        {"EntityId", (char *)m->entity_id},
        {"TemplateId", (char *)m->template_id},
    };
    return rp_sms_form_encode(params, sizeof(params) / sizeof(params[0]));
}

char *rp_sms_messages_url(const char *base_url, const char *account_sid)
{
    struct sbuf b = {0};
    size_t len = strlen(base_url);
    while (len && base_url[len - 1] == '/')
        len--;
    sb_add(&b, base_url, len);
    sb_str(&b, "/2010-04-01/Accounts/");
    sb_encoded(&b, account_sid);
    sb_str(&b, "/Messages.json");
    return sb_take(&b);
}

/* ---- Form bodies ---------------------------------------------------------------------------- */

/* Decodes s[0..n) into a new string; NULL for a bad escape or a NUL, raw or encoded. */
static char *form_decode(const char *s, size_t n)
{
    char *out = rp_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            free(out);
            return NULL;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? rp_hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? rp_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

int rp_sms_form_parse(const char *body, size_t len, struct rp_sms_form *form)
{
    form->params = NULL;
    form->n = 0;
    size_t cap = 0, i = 0;
    while (i < len) {
        const char *seg = body + i;
        const char *amp = memchr(seg, '&', len - i);
        const char *end = amp ? amp : body + len;
        i = (size_t)(end - body) + 1;
        if (end == seg)
            continue;
        size_t seglen = (size_t)(end - seg);
        if (form->n == RP_SMS_FORM_MAX_PARAMS)
            return RP_ELIMIT;
        const char *eq = memchr(seg, '=', seglen);
        size_t nlen = eq ? (size_t)(eq - seg) : seglen;
        char *name = form_decode(seg, nlen);
        char *value = eq ? form_decode(eq + 1, seglen - nlen - 1) : rp_strdup("");
        if (!name || !value) {
            free(name);
            free(value);
            return RP_EINVAL;
        }
        if (form->n == cap) {
            cap = cap ? cap * 2 : 8;
            form->params = rp_realloc(form->params, cap * sizeof(*form->params));
        }
        form->params[form->n].name = name;
        form->params[form->n].value = value;
        form->n++;
    }
    return 0;
}

void rp_sms_form_cleanup(struct rp_sms_form *form)
{
    for (size_t i = 0; i < form->n; i++) {
        free(form->params[i].name);
        free(form->params[i].value);
    }
    free(form->params);
    form->params = NULL;
    form->n = 0;
}

const char *rp_sms_form_get(const struct rp_sms_form *form, const char *name)
{
    for (size_t i = 0; i < form->n; i++)
        if (strcmp(form->params[i].name, name) == 0)
            return form->params[i].value;
    return NULL;
}

/* ---- Results -------------------------------------------------------------------------------- */

/* Copies a provider message into out with every phone-number-like run ('+' and at least 5
 * digits, or 8 digits) redacted: Twilio's messages quote the number ("The 'To' number +1... is
 * not a valid phone number"), and results end up in API answers, events and logs. */
static void copy_scrubbed(char *out, size_t size, const char *msg)
{
    struct sbuf b = {0};
    const char *p = msg;
    while (*p) {
        int plus = *p == '+';
        size_t digits = strspn(p + plus, "0123456789");
        size_t run = (size_t)plus + digits;
        if ((plus && digits >= 5) || digits >= 8) {
            char *number = rp_strndup(p, run);
            char red[48];
            sb_str(&b, rp_redact(number, red, sizeof(red)));
            free(number);
        } else {
            /* A short digit run is copied whole, so its tail is not taken for a number. */
            run = run ? run : 1;
            sb_add(&b, p, run);
        }
        p += run;
    }
    snprintf(out, size, "%s", b.p ? b.p : "");
    free(b.p);
}

static void set_attr(struct rp_delivery_result *r, const char *key, const char *value)
{
    if (json_is_object(r->attributes) && value)
        json_object_set_new(r->attributes, key, json_string(value));
}

/* Twilio error codes with a meaning of their own (www.twilio.com/docs/api/errors). */
static void classify_error_code(struct rp_delivery_result *r, long code, const char *msg)
{
    const char *record = NULL;
    switch (code) {
    case 21211: /* Invalid 'To' Phone Number */
        r->address_dead = 1;
        record = "INVALID";
        break;
    case 21614: /* 'To' number is not a valid mobile number */
        r->address_dead = 1;
        record = "UNREACHABLE";
        break;
    case 21612: /* The 'To' phone number is not currently reachable from this 'From' */
        record = "UNREACHABLE";
        break;
    case 21408: /* Permission to send an SMS has not been enabled for the region */
        record = "BLOCKED";
        break;
    case 21610: /* Attempt to send to unsubscribed recipient (the recipient sent STOP) */
        r->status = RP_DS_OPT_OUT;
        record = "OPTED_OUT";
        break;
    case 21602: /* Message body is required */
    case 21617: /* The concatenated message body exceeds the 1600 character limit */
        record = "INVALID_MESSAGE";
        break;
    case 21606: /* The 'From' phone number provided is not a valid message-capable number */
    case 21212: /* Invalid 'From' Phone Number */
        record = "INVALID_ORIGINATION_IDENTITY";
        break;
    default:
        break;
    }
    char clean[200];
    copy_scrubbed(clean, sizeof(clean), msg ? msg : "no message");
    snprintf(r->status_message, sizeof(r->status_message), "provider error %ld: %s", code, clean);
    set_attr(r, "record_status", record ? record : "FAILED");
}

static void classify_success(const struct rp_httpc_response *resp, struct rp_delivery_result *r,
                             const json_t *doc)
{
    const char *sid = json_string_value(json_object_get(doc, "sid"));
    if (sid && strlen(sid) < sizeof(r->message_id)) {
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, (int)resp->status, "MessageId: %s", sid);
        snprintf(r->message_id, sizeof(r->message_id), "%s", sid);
        set_attr(r, "sender_request_id", sid);
    } else {
        /* Accepted all the same: sending again could deliver the message twice. */
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, (int)resp->status,
                               "accepted without a message sid");
    }
    set_attr(r, "record_status", "SUCCESSFUL");
}

void rp_sms_classify(const struct rp_httpc_response *resp, long long now_ms,
                     struct rp_delivery_result *r)
{
    if (resp->transport_error) {
        /* curl's own words: they name the host, never a recipient. */
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "provider unreachable: %s",
                               resp->error);
        set_attr(r, "record_status", "UNKNOWN");
        return;
    }
    long st = resp->status;
    json_t *doc = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(doc, "message"));
    long code = (long)json_integer_value(json_object_get(doc, "code"));

    if (st >= 200 && st < 300) {
        classify_success(resp, r, doc);
    } else if (st == 429 || code == 20429) {
        rp_delivery_result_set(r, RP_DS_THROTTLED, (int)st, "provider throttled the request");
        long long after = rp_httpc_retry_after_ms(resp->retry_after, now_ms);
        r->retry_after_ms = after > 0 ? after : 0;
        set_attr(r, "record_status", "RATE_EXCEEDED");
    } else if (st == 401 || st == 403) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st,
                               "provider rejected the credentials");
        set_attr(r, "record_status", "FAILED");
    } else if (st == 408 || st >= 500) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, (int)st,
                               "provider unavailable (HTTP %ld)", st);
        /* RFC 9110: a 503 may say how long the outage will last. */
        long long after = rp_httpc_retry_after_ms(resp->retry_after, now_ms);
        r->retry_after_ms = after > 0 ? after : 0;
        set_attr(r, "record_status", "UNKNOWN");
    } else {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st, "HTTP %ld", st);
        if (code || msg)
            classify_error_code(r, code, msg);
        else
            set_attr(r, "record_status", "FAILED");
    }
    json_decref(doc);
}

json_t *rp_sms_attributes(const struct rp_sms_segments *segments, const char *message_type,
                          const char *origination)
{
    json_t *a = json_object();
    char parts[16];
    snprintf(parts, sizeof(parts), "%d", segments->parts);
    json_object_set_new(a, "number_of_message_parts", json_string(parts));
    int promotional = message_type && strcmp(message_type, "PROMOTIONAL") == 0;
    json_object_set_new(a, "message_type",
                        json_string(promotional ? "Promotional" : "Transactional"));
    json_object_set_new(a, "encoding", json_string(rp_sms_encoding_name(segments->encoding)));
    if (origination && *origination)
        json_object_set_new(a, "origination_phone_number", json_string(origination));
    return a;
}

/* ---- Status callbacks ----------------------------------------------------------------------- */

static int param_cmp(const void *a, const void *b)
{
    const struct rp_sms_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int rp_sms_signature(const char *auth_token, const char *url, const char *form, size_t form_len,
                     char out[RP_SMS_SIGNATURE_SIZE])
{
    struct rp_sms_form f;
    int rc = rp_sms_form_parse(form ? form : "", form ? form_len : 0, &f);
    if (rc < 0) {
        rp_sms_form_cleanup(&f);
        return rc;
    }
    if (f.n > 1)
        qsort(f.params, f.n, sizeof(*f.params), param_cmp);
    struct sbuf b = {0};
    sb_str(&b, url);
    for (size_t i = 0; i < f.n; i++) {
        if (i > 0 && param_cmp(&f.params[i - 1], &f.params[i]) == 0)
            continue;
        sb_str(&b, f.params[i].name);
        sb_str(&b, f.params[i].value);
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const unsigned char *ok = HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token),
                                   (const unsigned char *)b.p, b.len, mac, &mac_len);
    free(b.p);
    rp_sms_form_cleanup(&f);
    if (!ok || mac_len != 20)
        return RP_ECRYPTO;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
    return 0;
}

int rp_sms_signature_verify(const char *auth_token, const char *url, const char *form,
                            size_t form_len, const char *signature)
{
    char expected[RP_SMS_SIGNATURE_SIZE];
    if (!signature || strlen(signature) != RP_SMS_SIGNATURE_SIZE - 1)
        return RP_EFORBIDDEN;
    if (rp_sms_signature(auth_token, url, form, form_len, expected) < 0)
        return RP_EFORBIDDEN;
    return CRYPTO_memcmp(expected, signature, RP_SMS_SIGNATURE_SIZE - 1) == 0 ? 0 : RP_EFORBIDDEN;
}

/* Copies an optional field (the first of two names) into out; RP_EINVAL when too long or not
 * printable ASCII (these values are sids, statuses and numbers). */
static int status_field(const struct rp_sms_form *f, const char *name, const char *alt, char *out,
                        size_t size, int required, struct rp_err *err)
{
    const char *v = rp_sms_form_get(f, name);
    if (!v && alt)
        v = rp_sms_form_get(f, alt);
    if (!v || !*v) {
        out[0] = '\0';
        return required ? rp_err_set(err, RP_EINVAL, name, "is required") : 0;
    }
    if (strlen(v) >= size)
        return rp_err_set(err, RP_EINVAL, name, "is longer than %zu characters", size - 1);
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p > '~')
            return rp_err_set(err, RP_EINVAL, name, "must be printable ASCII without spaces");
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* Pinpoint record_status for a failed receipt, from Twilio's 30xxx delivery error codes. */
static const char *failure_record_status(int error_code)
{
    switch (error_code) {
    case 30003: /* Unreachable destination handset */
        return "UNREACHABLE";
    case 30004: /* Message blocked */
        return "BLOCKED";
    case 30005: /* Unknown destination handset */
        return "INVALID";
    case 30006: /* Landline or unreachable carrier */
        return "CARRIER_UNREACHABLE";
    case 30007: /* Message filtered by the carrier */
        return "CARRIER_BLOCKED";
    case 30008: /* Unknown error */
        return "UNKNOWN";
    case 21610:
        return "OPTED_OUT";
    default:
        return "UNKNOWN";
    }
}

static void status_meaning(struct rp_sms_status *s)
{
    static const struct {
        const char *name;
        enum rp_sms_status_kind kind;
    } kinds[] = {
        {"queued", RP_SMS_STATUS_QUEUED},
        {"sending", RP_SMS_STATUS_SENDING},
        {"sent", RP_SMS_STATUS_SENT},
        {"delivered", RP_SMS_STATUS_DELIVERED},
        {"undelivered", RP_SMS_STATUS_UNDELIVERED},
        {"failed", RP_SMS_STATUS_FAILED},
    };
    s->kind = RP_SMS_STATUS_OTHER;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(s->status, kinds[i].name) == 0)
            s->kind = kinds[i].kind;
    s->final = 0;
    s->delivery_status = RP_DS_SUCCESSFUL;
    s->event_type = "_SMS.BUFFERED";
    switch (s->kind) {
    case RP_SMS_STATUS_DELIVERED:
        s->final = 1;
        s->record_status = "DELIVERED";
        s->event_type = "_SMS.SUCCESS";
        break;
    case RP_SMS_STATUS_SENT:
        s->record_status = "SUCCESSFUL";
        break;
    case RP_SMS_STATUS_UNDELIVERED:
    case RP_SMS_STATUS_FAILED:
        s->final = 1;
        s->delivery_status = s->error_code == 21610 ? RP_DS_OPT_OUT : RP_DS_PERMANENT_FAILURE;
        s->record_status = failure_record_status(s->error_code);
        s->event_type = "_SMS.FAILURE";
        break;
    default:
        s->record_status = "PENDING";
        break;
    }
}

int rp_sms_status_parse(const char *form, size_t len, struct rp_sms_status *out, struct rp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct rp_sms_form f;
    int rc = rp_sms_form_parse(form ? form : "", form ? len : 0, &f);
    if (rc < 0) {
        rp_sms_form_cleanup(&f);
        return rp_err_set(err, RP_EINVAL, "body", "is not a well-formed form body");
    }
    char code[16];
    rc = status_field(&f, "MessageSid", "SmsSid", out->message_sid, sizeof(out->message_sid), 1,
                      err);
    if (rc == 0)
        rc = status_field(&f, "MessageStatus", "SmsStatus", out->status, sizeof(out->status), 1,
                          err);
    if (rc == 0)
        rc = status_field(&f, "AccountSid", NULL, out->account_sid, sizeof(out->account_sid), 0,
                          err);
    if (rc == 0)
        rc = status_field(&f, "To", NULL, out->to, sizeof(out->to), 0, err);
    if (rc == 0)
        rc = status_field(&f, "From", NULL, out->from, sizeof(out->from), 0, err);
    if (rc == 0)
        rc = status_field(&f, "ErrorCode", NULL, code, sizeof(code), 0, err);
    if (rc == 0 && code[0]) {
        char *end;
        long v = strtol(code, &end, 10);
        if (*end || v < 0 || v > 999999)
            rc = rp_err_set(err, RP_EINVAL, "ErrorCode", "must be a number");
        else
            out->error_code = (int)v;
    }
    rp_sms_form_cleanup(&f);
    if (rc < 0)
        return rc;
    status_meaning(out);
    return 0;
}
