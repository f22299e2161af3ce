/* One-time passwords: request validation, code generation, message texts and MACs
 * (see otp.h for the rules). */
#include "otp.h"
#include "channels/sms/e164.h"
#include "jsonv.h"
#include "rc.h"
#include "util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The built-in texts. {C} is the code, {M} the validity in minutes, {B} the brand. Each
 * language writes the brand where its SMS conventions put a sender's name: "Brand: " in
 * Latin scripts, 【Brand】 in Chinese and Japanese, [Brand] in Korean. */
struct otp_language {
    const char *tag;
    const char *brand;
    const char *text;
};

static const struct otp_language languages[] = {
    {"de-DE", "{B}: ",
     "Ihr Bestätigungscode lautet {C}. Er ist {M} Minuten gültig. Geben Sie ihn an niemanden "
     "weiter."},
    {"en-GB", "{B}: ",
     "Your verification code is {C}. It expires in {M} minutes. Do not share it with anyone."},
    {"en-US", "{B}: ",
     "Your verification code is {C}. It expires in {M} minutes. Do not share it with anyone."},
    {"es-419",
     "{B}: ", "Tu código de verificación es {C}. Vence en {M} minutos. No lo compartas con nadie."},
    {"es-ES", "{B}: ",
     "Tu código de verificación es {C}. Caduca en {M} minutos. No lo compartas con nadie."},
    {"fr-CA", "{B} : ",
     "Votre code de vérification est {C}. Il expire dans {M} minutes. Ne le communiquez à "
     "personne."},
    {"fr-FR", "{B} : ",
     "Votre code de vérification est {C}. Il expire dans {M} minutes. Ne le partagez avec "
     "personne."},
    {"ja-JP", "【{B}】",
     "認証コードは{C}です。有効期限は{M}分です。このコードを他の人に教えないでください。"},
    {"ko-KR", "[{B}] ",
     "인증 코드는 {C}입니다. {M}분 후에 만료됩니다. 다른 사람에게 알려주지 마세요."},
    {"pt-BR", "{B}: ",
     "Seu código de verificação é {C}. Ele expira em {M} minutos. Não o compartilhe com "
     "ninguém."},
    {"zh-CN", "【{B}】", "您的验证码是{C}，{M}分钟内有效。请勿将验证码告诉他人。"},
    {"zh-TW", "【{B}】", "您的驗證碼是{C}，{M}分鐘內有效。請勿將驗證碼告訴他人。"},
};

#define N_LANGUAGES (sizeof(languages) / sizeof(languages[0]))

const char *rp_otp_language(const char *tag)
{
    for (size_t i = 0; tag && i < N_LANGUAGES; i++)
        if (strcasecmp(tag, languages[i].tag) == 0)
            return languages[i].tag;
    return NULL;
}

const char *rp_otp_language_at(size_t i)
{
    return i < N_LANGUAGES ? languages[i].tag : NULL;
}

/* Appends src (n bytes) at *pos; returns 0 or RP_ETOOBIG, keeping room for the NUL. */
static int put(char *out, size_t size, size_t *pos, const char *src, size_t n)
{
    if (*pos + n + 1 > size)
        return RP_ETOOBIG;
    memcpy(out + *pos, src, n);
    *pos += n;
    return 0;
}

/* The value a {X} placeholder at p stands for, or NULL when p starts none. */
static const char *placeholder(const char *p, const char *brand, const char *code,
                               const char *minutes)
{
    if (p[0] != '{' || p[1] == '\0' || p[2] != '}')
        return NULL;
    switch (p[1]) {
    case 'C':
        return code;
    case 'M':
        return minutes;
    case 'B':
        return brand;
    default:
        return NULL;
    }
}

static int expand(const char *pattern, const char *brand, const char *code, const char *minutes,
                  char *out, size_t size, size_t *pos)
{
    for (const char *p = pattern; *p;) {
        const char *value = placeholder(p, brand, code, minutes);
        int rc = value ? put(out, size, pos, value, strlen(value)) : put(out, size, pos, p, 1);
        if (rc)
            return rc;
        p += value ? 3 : 1;
    }
    return 0;
}

int rp_otp_message(const char *language, const char *brand, const char *code, int minutes,
                   char *out, size_t size)
{
    const struct otp_language *lang = &languages[2]; /* en-US */
    for (size_t i = 0; language && i < N_LANGUAGES; i++)
        if (strcmp(language, languages[i].tag) == 0)
            lang = &languages[i];
    char m[16];
    snprintf(m, sizeof(m), "%d", minutes);
    size_t pos = 0;
    int rc = 0;
    if (size == 0)
        return RP_ETOOBIG;
    if (brand && *brand)
        rc = expand(lang->brand, brand, code, m, out, size, &pos);
    if (!rc)
        rc = expand(lang->text, brand, code, m, out, size, &pos);
    out[rc ? 0 : pos] = '\0';
    return rc ? rc : (int)pos;
}

/* Characters (code points) of a valid UTF-8 string: jansson only hands out valid UTF-8. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

/* A required string member: present, a string, not empty. */
static int required_string(const json_t *body, const char *name, size_t max_bytes, const char **out,
                           struct rp_err *err)
{
    int rc = rp_jsonv_string(body, NULL, name, max_bytes, out, err);
    if (rc < 0)
        return rc;
    if (rc == 0 || !**out)
        return rp_err_set(err, RP_EINVAL, name, "is required");
    return 0;
}

static int reference_id(const json_t *body, const char **out, struct rp_err *err)
{
    /* 4 bytes per character at most: the character count is checked below. */
    int rc = required_string(body, "ReferenceId", (size_t)RP_OTP_REFERENCE_MAX * 4, out, err);
    if (rc == RP_EINVAL && strstr(err->msg, "at most"))
        return rp_err_set(err, RP_EINVAL, "ReferenceId", "must be between 1 and %d characters",
                          RP_OTP_REFERENCE_MAX);
    if (rc)
        return rc;
    if (utf8_chars(*out) > RP_OTP_REFERENCE_MAX)
        return rp_err_set(err, RP_EINVAL, "ReferenceId", "must be between 1 and %d characters",
                          RP_OTP_REFERENCE_MAX);
    return 0;
}

/* A long code (E.164), a short code (digits), or an alphanumeric sender id (AWS: "up to 11
 * alphanumeric characters, including at least one letter"). */
static int origination(const char *s, bool *is_number, struct rp_err *err)
{
    if (s[0] == '+') {
        *is_number = true;
        return rp_e164_validate(s, "OriginationIdentity", err);
    }
    size_t len = strlen(s), digits = strspn(s, "0123456789"), alnum = 0;
    if (digits == len) {
        *is_number = true;
        if (len < 3 || len > 8)
            return rp_err_set(err, RP_EINVAL, "OriginationIdentity",
                              "a short code must have 3 to 8 digits (a long code is written in "
                              "E.164, with a leading +)");
        return 0;
    }
    *is_number = false;
    for (const char *c = s; *c; c++)
        alnum += (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
    if (alnum != len || len > 11)
        return rp_err_set(err, RP_EINVAL, "OriginationIdentity",
                          "must be a phone number in E.164, a short code, or a sender ID of up "
                          "to 11 letters and digits");
    return 0;
}

int rp_otp_parse_send(const json_t *body, struct rp_otp_send *out, struct rp_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *channel = NULL, *language = NULL;
    long long n;
    int rc;
    if (!json_is_object(body))
        return rp_err_set(err, RP_EINVAL, "SendOTPMessageRequestParameters", "must be an object");
    if ((rc = required_string(body, "Channel", 64, &channel, err)))
        return rc;
    if (strcmp(channel, "SMS") != 0)
        return rp_err_set(err, RP_EINVAL, "Channel",
                          "must be SMS (the only channel one-time passwords are sent through)");
    if ((rc = required_string(body, "OriginationIdentity", 64, &out->origination, err)) ||
        (rc = origination(out->origination, &out->origination_is_number, err)))
        return rc;
    if ((rc = required_string(body, "DestinationIdentity", 64, &out->destination, err)) ||
        (rc = rp_e164_validate(out->destination, "DestinationIdentity", err)))
        return rc;
    rc = rp_jsonv_string(body, NULL, "BrandName", (size_t)RP_OTP_BRAND_MAX * 4, &out->brand, err);
    if (rc < 0 && !strstr(err->msg, "at most"))
        return rc;
    if (rc < 0 || (rc == 1 && utf8_chars(out->brand) > RP_OTP_BRAND_MAX))
        return rp_err_set(err, RP_EINVAL, "BrandName", "must be at most %d characters",
                          RP_OTP_BRAND_MAX);
    if (out->brand && has_control(out->brand))
        return rp_err_set(err, RP_EINVAL, "BrandName", "must not contain control characters");
    if (out->brand && !*out->brand)
        out->brand = NULL;
    rc = rp_jsonv_string(body, NULL, "Language", 16, &language, err);
    if (rc == 1 && *language)
        out->language = rp_otp_language(language);
    else
        out->language = rc < 0 ? NULL : RP_OTP_LANGUAGE_DEFAULT;
    if (!out->language)
        return rp_err_set(err, RP_EINVAL, "Language",
                          "must be one of de-DE, en-GB, en-US, es-419, es-ES, fr-CA, fr-FR, "
                          "ja-JP, ko-KR, pt-BR, zh-CN, zh-TW");
    out->code_length = RP_OTP_CODE_DEFAULT;
    if ((rc = rp_jsonv_int(body, NULL, "CodeLength", RP_OTP_CODE_MIN, RP_OTP_CODE_MAX, &n, err)) <
        0)
        return rc;
    if (rc)
        out->code_length = (int)n;
    out->validity_minutes = RP_OTP_VALIDITY_DEFAULT;
    if ((rc = rp_jsonv_int(body, NULL, "ValidityPeriod", RP_OTP_VALIDITY_MIN, RP_OTP_VALIDITY_MAX,
                           &n, err)) < 0)
        return rc;
    if (rc)
        out->validity_minutes = (int)n;
    out->allowed_attempts = RP_OTP_ATTEMPTS_DEFAULT;
    if ((rc = rp_jsonv_int(body, NULL, "AllowedAttempts", RP_OTP_ATTEMPTS_MIN, RP_OTP_ATTEMPTS_MAX,
                           &n, err)) < 0)
        return rc;
    if (rc)
        out->allowed_attempts = (int)n;
    if ((rc = reference_id(body, &out->reference_id, err)))
        return rc;
    if ((rc = rp_jsonv_string(body, NULL, "EntityId", RP_OTP_REGULATORY_MAX, &out->entity_id,
                              err)) < 0 ||
        (rc = rp_jsonv_string(body, NULL, "TemplateId", RP_OTP_REGULATORY_MAX, &out->template_id,
                              err)) < 0)
        return rc;
    if ((out->entity_id && has_control(out->entity_id)) ||
        (out->template_id && has_control(out->template_id)))
        return rp_err_set(err, RP_EINVAL,
                          out->entity_id && has_control(out->entity_id) ? "EntityId" : "TemplateId",
                          "must not contain control characters");
    return 0;
}

int rp_otp_parse_verify(const json_t *body, struct rp_otp_verify *out, struct rp_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc;
    if (!json_is_object(body))
        return rp_err_set(err, RP_EINVAL, "VerifyOTPMessageRequestParameters", "must be an object");
    if ((rc = required_string(body, "DestinationIdentity", 64, &out->destination, err)) ||
        (rc = rp_e164_validate(out->destination, "DestinationIdentity", err)))
        return rc;
    /* The message never says more than the bound: a guess is a secret of its own. */
    if ((rc = required_string(body, "Otp", RP_OTP_GUESS_MAX, &out->otp, err)))
        return rc;
    return reference_id(body, &out->reference_id, err);
}

json_t *rp_otp_message_request(const struct rp_otp_send *p, const char *text)
{
    json_t *sms = json_pack("{s:s, s:s}", "Body", text, "MessageType", "TRANSACTIONAL");
    json_object_set_new(sms, p->origination_is_number ? "OriginationNumber" : "SenderId",
                        json_string(p->origination));
    if (p->entity_id && *p->entity_id)
        json_object_set_new(sms, "EntityId", json_string(p->entity_id));
    if (p->template_id && *p->template_id)
        json_object_set_new(sms, "TemplateId", json_string(p->template_id));
    json_t *addresses = json_object();
    json_object_set_new(addresses, p->destination, json_pack("{s:s}", "ChannelType", "SMS"));
    return json_pack("{s:o, s:{s:o}}", "Addresses", addresses, "MessageConfiguration", "SMSMessage",
                     sms);
}

uint64_t rp_otp_rejection_limit(uint32_t bound)
{
    const uint64_t range = (uint64_t)1 << 32;
    return range - range % bound;
}

uint32_t rp_otp_uniform(uint32_t bound, rp_otp_random_fn rnd, void *arg)
{
    uint64_t limit = rp_otp_rejection_limit(bound);
    for (;;) {
        uint32_t x;
        rnd(arg, &x, sizeof(x));
        if ((uint64_t)x < limit)
            return x % bound;
    }
}

static void csprng(void *arg, void *buf, size_t len)
{
    (void)arg;
    rp_random_bytes(buf, len);
}

void rp_otp_generate(int length, char *out, rp_otp_random_fn rnd, void *arg)
{
    static const uint32_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    if (length < RP_OTP_CODE_MIN || length > RP_OTP_CODE_MAX)
        length = RP_OTP_CODE_DEFAULT;
    uint32_t v = rp_otp_uniform(pow10[length], rnd ? rnd : csprng, arg);
    for (int i = length - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[length] = '\0';
}

int rp_otp_derive_key(const unsigned char master[32], const char *label, unsigned char out[32])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t len = 32;
    int ok =
        ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0 &&
        EVP_PKEY_CTX_set1_hkdf_key(ctx, master, 32) > 0 &&
        EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)label, (int)strlen(label)) > 0 &&
        EVP_PKEY_derive(ctx, out, &len) > 0 && len == 32;
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : RP_ECRYPTO;
}

/* Appends a 2-byte length and the bytes: fields cannot run into each other. */
static int field(unsigned char *buf, size_t size, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n > 0xFFFF || *pos + 2 + n > size)
        return RP_ETOOBIG;
    buf[(*pos)++] = (unsigned char)(n >> 8);
    buf[(*pos)++] = (unsigned char)n;
    for (size_t i = 0; i < n; i++)
        buf[(*pos)++] = (unsigned char)s[i];
    return 0;
}

int rp_otp_mac(const unsigned char key[32], const char *app, const char *destination,
               const char *reference_id, const char *code, char *out, size_t size)
{
    unsigned char buf[1024], mac[32];
    unsigned int mac_len = 0;
    size_t pos = 0;
    int rc = field(buf, sizeof(buf), &pos, app);
    if (!rc)
        rc = field(buf, sizeof(buf), &pos, destination);
    if (!rc)
        rc = field(buf, sizeof(buf), &pos, reference_id);
    if (!rc && code)
        rc = field(buf, sizeof(buf), &pos, code);
    if (!rc && !HMAC(EVP_sha256(), key, 32, buf, pos, mac, &mac_len))
        rc = RP_ECRYPTO;
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc || size == 0)
        return rc ? rc : RP_ETOOBIG;
    char hex[RP_OTP_MAC_HEX];
    rp_hex(mac, sizeof(mac), hex);
    snprintf(out, size, "%s", hex);
    return 0;
}
