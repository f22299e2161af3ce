#include "sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "rc.h"

#define ALGORITHM    "AWS4-HMAC-SHA256"
#define TERMINATOR   "aws4_request"
#define AWS_MAX_SKEW 900 /* AWS refuses requests dated more than 15 minutes from its clock */

#define MSG_SIGNATURE_MISMATCH                                                                     \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method."

/* A fixed-size output buffer that remembers overflowing instead of growing (curl's dynbuf with
 * its maximum): every builder below writes through one and checks `full` once at the end. */
struct sbuf {
    char *p;
    size_t len;
    size_t cap; /* bytes at p, including room for the NUL */
    int full;
};

struct span {
    const char *p;
    size_t n;
};

/* A calendar date-time in UTC, as read from X-Amz-Date or Date. */
struct stamp {
    int year, mon, day, hour, min, sec;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
    b->p = p;
    b->len = 0;
    b->cap = cap;
    b->full = cap == 0;
    if (cap)
        p[0] = '\0';
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->full || n >= b->cap - b->len) {
        b->full = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_putn(b, &c, 1);
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* botocore trims with str.split() and the JS SDK with /\s+/: both treat every ASCII
 * whitespace alike, and folding CR/LF also keeps a header value from forging a line of the
 * canonical request. */
static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 3986 unreserved: the only bytes SigV4 leaves unencoded. */
static int is_unreserved(unsigned char c)
{
    return is_alpha((char)c) || is_digit((char)c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 7230 tchar, lowercase only: SignedHeaders carries lowercased header names. */
static int is_lower_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static void put_encoded(struct sbuf *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    if (is_unreserved(c)) {
        sb_putc(b, (char)c);
    } else {
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        sb_putn(b, e, sizeof(e));
    }
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int span_cmp(const struct span *a, const struct span *b)
{
    int r = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    if (r)
        return r;
    return (a->n > b->n) - (a->n < b->n);
}

static int span_is(const struct span *s, const char *lit)
{
    return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

static struct span trim_ows(const char *s)
{
    struct span r;
    while (is_ws(*s))
        s++;
    r.p = s;
    r.n = strlen(s);
    while (r.n && is_ws(s[r.n - 1]))
        r.n--;
    return r;
}

/* True when a received header name equals a lowercase name, ignoring ASCII case. */
static int header_is(const char *name, const char *lname, size_t n)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '\0' || lower(name[i]) != lname[i])
            return 0;
    return name[n] == '\0';
}

/* Returns the first header called lname (borrowed from req) and how many there are. */
static const char *find_header(const struct rp_sigv4_request *req, const char *lname, size_t n,
                               size_t *count)
{
    const char *first = NULL;
    *count = 0;
    for (size_t i = 0; req->headers && i < req->n_headers; i++) {
        if (header_is(req->headers[i].name, lname, n)) {
            if (!first)
                first = req->headers[i].value ? req->headers[i].value : "";
            (*count)++;
        }
    }
    return first;
}

/* Splits a SignedHeaders list into spans pointing into it. Returns 0, or -1 when a name is
 * empty or not a lowercase token, or when there are more than max names. */
static int split_signed(const char *list, struct span *out, size_t max, size_t *n_out)
{
    size_t n = 0;
    const char *p = list;
    *n_out = 0;
    for (;;) {
        const char *start = p;
        while (*p && *p != ';') {
            if (!is_lower_tchar(*p))
                return -1;
            p++;
        }
        if (p == start || n == max)
            return -1;
        out[n].p = start;
        out[n].n = (size_t)(p - start);
        n++;
        if (*p == '\0')
            break;
        p++;
    }
    *n_out = n;
    return 0;
}

static void sort_spans(struct span *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct span key = s[i];
        size_t j = i;
        while (j > 0 && span_cmp(&s[j - 1], &key) > 0) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = key;
    }
}

/* botocore's normalize_url_path followed by quote(path, safe='/~'); the JS SDK v3's
 * getCanonicalPath does the same. It works on the raw, still-encoded path, so "%2E%2E" is a
 * name rather than "..", and every '%' is encoded again ("%3A" becomes "%253A"): for
 * non-S3 services the SDKs sign the doubly-encoded path. Each kept segment is written as
 * "/segment" so that ".." can drop back to the previous '/'. */
static void put_canonical_uri(struct sbuf *b, const char *path)
{
    if (!path || !*path) {
        sb_putc(b, '/');
        return;
    }
    size_t base = b->len;
    size_t nseg = 0;
    const char *s = path;
    for (;;) {
        if (b->full)
            return;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.')) {
            /* empty segments ("//") and "." vanish */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (nseg > 0) {
                size_t i = b->len;
                while (i > base && b->p[i - 1] != '/')
                    i--;
                b->len = i - 1;
                b->p[b->len] = '\0';
                nseg--;
            }
        } else {
            sb_putc(b, '/');
            for (size_t i = 0; i < n; i++)
                put_encoded(b, (unsigned char)s[i]);
            nseg++;
        }
        if (!e)
            break;
        s = e + 1;
    }
    if (b->full)
        return;
    if (nseg == 0) {
        if (path[0] == '/')
            sb_putc(b, '/');
        return;
    }
    if (path[0] != '/') {
        memmove(b->p + base, b->p + base + 1, b->len - base - 1);
        b->len--;
        b->p[b->len] = '\0';
    }
    if (path[strlen(path) - 1] == '/')
        sb_putc(b, '/');
}

/* Decodes %XX escapes (only those: '+' stays a plus, as in RFC 3986) and re-encodes with the
 * unreserved set, so that any client's escaping reaches one canonical form. */
static void put_reencoded(struct sbuf *b, const char *s)
{
    while (s && *s) {
        int hi, lo;
        if (s[0] == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            put_encoded(b, (unsigned char)(hi * 16 + lo));
            s += 3;
        } else {
            put_encoded(b, (unsigned char)*s);
            s++;
        }
    }
}

struct qpair {
    struct span name;
    struct span value;
};

static int qpair_cmp(const struct qpair *a, const struct qpair *b)
{
    int r = span_cmp(&a->name, &b->name);
    return r ? r : span_cmp(&a->value, &b->value);
}

/* Encoded names and values are sorted as byte strings, name first: what botocore's
 * sorted(key_val_pairs) does. */
static int put_canonical_query(struct sbuf *b, const struct rp_sigv4_request *req)
{
    if (req->n_query == 0)
        return 0;
    if (!req->query)
        return RP_EINVAL;
    if (req->n_query > RP_SIGV4_MAX_QUERY)
        return RP_ETOOBIG;

    /* scratch never moves, so spans may point into it while it is being filled. */
    char scratch[RP_SIGV4_MAX_CANONICAL];
    struct qpair pairs[RP_SIGV4_MAX_QUERY];
    struct sbuf s;
    sb_init(&s, scratch, sizeof(scratch));
    size_t n = req->n_query;
    for (size_t i = 0; i < n; i++) {
        pairs[i].name.p = scratch + s.len;
        put_reencoded(&s, req->query[i].name);
        pairs[i].name.n = (size_t)(scratch + s.len - pairs[i].name.p);
        pairs[i].value.p = scratch + s.len;
        put_reencoded(&s, req->query[i].value);
        pairs[i].value.n = (size_t)(scratch + s.len - pairs[i].value.p);
    }
    if (s.full)
        return RP_ETOOBIG;
    for (size_t i = 1; i < n; i++) {
        struct qpair key = pairs[i];
        size_t j = i;
        while (j > 0 && qpair_cmp(&pairs[j - 1], &key) > 0) {
            pairs[j] = pairs[j - 1];
            j--;
        }
        pairs[j] = key;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(b, '&');
        sb_putn(b, pairs[i].name.p, pairs[i].name.n);
        sb_putc(b, '=');
        sb_putn(b, pairs[i].value.p, pairs[i].value.n);
    }
    return 0;
}

/* SigV4 "Trimall": drop leading and trailing whitespace, fold inner runs into one space. */
static void put_trimmed(struct sbuf *b, const char *v)
{
    int pending = 0, wrote = 0;
    for (; v && *v; v++) {
        if (is_ws(*v)) {
            pending = 1;
            continue;
        }
        if (pending && wrote)
            sb_putc(b, ' ');
        sb_putc(b, *v);
        pending = 0;
        wrote = 1;
    }
}

/* "name:value\n" per signed header in name order; repeated headers are joined with ',' in the
 * order received (botocore's ','.join(headers.get_all(key))). */
static int put_canonical_headers(struct sbuf *b, const struct rp_sigv4_request *req,
                                 const char *signed_headers)
{
    struct span names[RP_SIGV4_MAX_SIGNED_HEADERS];
    size_t n;
    if (split_signed(signed_headers, names, RP_SIGV4_MAX_SIGNED_HEADERS, &n))
        return RP_EINVAL;
    sort_spans(names, n);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && span_cmp(&names[i - 1], &names[i]) == 0)
            return RP_EINVAL;
        sb_putn(b, names[i].p, names[i].n);
        sb_putc(b, ':');
        size_t found = 0;
        for (size_t h = 0; req->headers && h < req->n_headers; h++) {
            if (!header_is(req->headers[h].name, names[i].p, names[i].n))
                continue;
            if (found++)
                sb_putc(b, ',');
            put_trimmed(b, req->headers[h].value);
        }
        if (!found)
            return RP_EINVAL;
        sb_putc(b, '\n');
    }
    return 0;
}

static int valid_method(const char *m)
{
    if (!m || !*m)
        return 0;
    for (; *m; m++)
        if (!is_alpha(*m) && !is_digit(*m) && !strchr("!#$%&'*+-.^_`|~", *m))
            return 0;
    return 1;
}

int rp_sigv4_canonical_request(const struct rp_sigv4_request *req, const char *signed_headers,
                               char *out, size_t out_size)
{
    if (!req || !signed_headers || !out || out_size == 0)
        return RP_EINVAL;
    out[0] = '\0';
    if (!valid_method(req->method))
        return RP_EINVAL;

    struct sbuf b;
    sb_init(&b, out, out_size);
    sb_puts(&b, req->method);
    sb_putc(&b, '\n');
    put_canonical_uri(&b, req->raw_path);
    sb_putc(&b, '\n');
    int rc = put_canonical_query(&b, req);
    if (rc)
        goto fail;
    sb_putc(&b, '\n');
    rc = put_canonical_headers(&b, req, signed_headers);
    if (rc)
        goto fail;
    sb_putc(&b, '\n');
    sb_puts(&b, signed_headers);
    sb_putc(&b, '\n');

    /* botocore: the X-Amz-Content-SHA256 header, when sent, is the payload line. */
    size_t count;
    const char *declared = find_header(req, "x-amz-content-sha256", 20, &count);
    if (declared) {
        put_trimmed(&b, declared);
    } else if (req->payload_sha256) {
        sb_puts(&b, req->payload_sha256);
    } else {
        rc = RP_EINVAL;
        goto fail;
    }
    if (!b.full)
        return 0;
    rc = RP_ETOOBIG;
fail:
    out[0] = '\0';
    return rc;
}

int rp_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    static const unsigned char nothing;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    out[0] = '\0';
    if (!data) {
        if (len)
            return RP_EINVAL;
        data = &nothing;
    }
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return RP_ECRYPTO;
    to_hex(md, 32, out);
    return 0;
}

int rp_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request,
                            char *out, size_t out_size)
{
    char hash[65];
    if (!amz_date || !scope || !canonical_request || !out || out_size == 0)
        return RP_EINVAL;
    out[0] = '\0';
    int rc = rp_sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
    if (rc)
        return rc;
    int n = snprintf(out, out_size, ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
    if (n < 0)
        return RP_EINVAL;
    if ((size_t)n >= out_size) {
        out[0] = '\0';
        return RP_ETOOBIG;
    }
    return 0;
}

static int hmac_sha256(const void *key, size_t key_len, const char *msg, size_t msg_len,
                       unsigned char out[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, msg_len, out, &n) ||
        n != 32)
        return RP_ECRYPTO;
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * RFC 2104 replaces a key longer than the 64-byte block by its hash, so doing that ourselves
 * lets a secret of any length through without a heap copy of "AWS4" + secret. */
static int signing_key(const char *secret, const char *date, const char *region,
                       const char *service, unsigned char key[32])
{
    unsigned char k0[64], k1[32], k2[32];
    size_t k0_len;
    size_t secret_len = strlen(secret);
    int rc = RP_ECRYPTO;

    if (secret_len + 4 <= sizeof(k0)) {
        /* k0 is HMAC key material, not a string: no terminator wanted. */
        memcpy(k0, "AWS4", 4);                 // NOLINT(bugprone-not-null-terminated-result)
        memcpy(k0 + 4, secret, secret_len);    // NOLINT(bugprone-not-null-terminated-result)
        k0_len = secret_len + 4;
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned int md_len = 0;
        int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                 EVP_DigestUpdate(md, "AWS4", 4) == 1 &&
                 EVP_DigestUpdate(md, secret, secret_len) == 1 &&
                 EVP_DigestFinal_ex(md, k0, &md_len) == 1 && md_len == 32;
        EVP_MD_CTX_free(md);
        if (!ok)
            goto out;
        k0_len = 32;
    }
    if (hmac_sha256(k0, k0_len, date, strlen(date), k1) ||
        hmac_sha256(k1, 32, region, strlen(region), k2) ||
        hmac_sha256(k2, 32, service, strlen(service), k1) ||
        hmac_sha256(k1, 32, TERMINATOR, strlen(TERMINATOR), key))
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    return rc;
}

static int malformed(struct rp_err *err, const char *what)
{
    return rp_err_set(err, RP_EINVAL, "Authorization", "Authorization header is malformed: %s",
                      what);
}

/* Copies one '/'-separated Credential part of 1..cap-1 printable, non-space bytes. */
static int copy_part(const struct span *part, char *dst, size_t cap)
{
    if (part->n == 0 || part->n >= cap)
        return -1;
    for (size_t i = 0; i < part->n; i++)
        if ((unsigned char)part->p[i] <= ' ' || (unsigned char)part->p[i] >= 0x7f)
            return -1;
    memcpy(dst, part->p, part->n);
    dst[part->n] = '\0';
    return 0;
}

static int parse_credential(const struct span *v, struct rp_sigv4_auth *out, struct rp_err *err)
{
    struct span parts[5];
    size_t n = 0;
    const char *p = v->p, *end = v->p + v->n;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        if (n == 5)
            goto bad;
        parts[n].p = p;
        parts[n].n = (size_t)(stop - p);
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n != 5)
        goto bad;
    if (copy_part(&parts[0], out->access_key_id, sizeof(out->access_key_id)) ||
        copy_part(&parts[1], out->date, sizeof(out->date)) ||
        copy_part(&parts[2], out->region, sizeof(out->region)) ||
        copy_part(&parts[3], out->service, sizeof(out->service)))
        goto bad;
    for (size_t i = 0; i < 8; i++)
        if (!is_digit(out->date[i]))
            return malformed(err, "the Credential scope date must be YYYYMMDD.");
    if (!span_is(&parts[4], TERMINATOR))
        return rp_err_set(err, RP_EINVAL, "Credential",
                          "Credential should be scoped with a valid terminator: 'aws4_request'.");
    return 0;
bad:
    return malformed(err, "Credential must be <AccessKeyId>/<YYYYMMDD>/<region>/<service>/"
                          "aws4_request.");
}

static int parse_signed_headers(const struct span *v, struct rp_sigv4_auth *out, struct rp_err *err)
{
    struct span names[RP_SIGV4_MAX_SIGNED_HEADERS];
    size_t n;
    if (v->n == 0 || v->n >= sizeof(out->signed_headers))
        return malformed(err, "SignedHeaders is empty or too long.");
    memcpy(out->signed_headers, v->p, v->n);
    out->signed_headers[v->n] = '\0';
    if (split_signed(out->signed_headers, names, RP_SIGV4_MAX_SIGNED_HEADERS, &n))
        return malformed(err, "SignedHeaders must be lowercase header names separated by ';'.");
    sort_spans(names, n);
    for (size_t i = 1; i < n; i++)
        if (span_cmp(&names[i - 1], &names[i]) == 0)
            return malformed(err, "SignedHeaders names a header twice.");
    return 0;
}

static int parse_signature(const struct span *v, struct rp_sigv4_auth *out, struct rp_err *err)
{
    if (v->n != 64)
        return malformed(err, "Signature must be 64 hexadecimal characters.");
    for (size_t i = 0; i < 64; i++) {
        if (hexval(v->p[i]) < 0)
            return malformed(err, "Signature must be 64 hexadecimal characters.");
        out->signature[i] = lower(v->p[i]);
    }
    out->signature[64] = '\0';
    return 0;
}

int rp_sigv4_parse_authorization(const char *header, struct rp_sigv4_auth *out, struct rp_err *err)
{
    static const size_t alg_len = sizeof(ALGORITHM) - 1;
    int have_cred = 0, have_headers = 0, have_sig = 0;

    if (!out)
        return RP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!header)
        return rp_err_set(err, RP_EINVAL, "Authorization", "Missing Authentication Token");
    const char *p = header;
    while (is_ows(*p))
        p++;
    if (strncmp(p, ALGORITHM, alg_len) != 0 || !is_ows(p[alg_len]))
        return rp_err_set(err, RP_EINVAL, "Authorization",
                          "Authorization header is malformed: only the AWS4-HMAC-SHA256 "
                          "algorithm is accepted.");
    p += alg_len;

    for (;;) {
        while (is_ows(*p))
            p++;
        struct span key = {p, 0};
        while (*p && *p != '=' && *p != ',' && !is_ows(*p))
            p++;
        key.n = (size_t)(p - key.p);
        if (*p != '=' || key.n == 0)
            return malformed(err, "expected Credential=..., SignedHeaders=..., Signature=....");
        p++;
        struct span val = {p, 0};
        while (*p && *p != ',')
            p++;
        val.n = (size_t)(p - val.p);
        while (val.n && is_ows(val.p[val.n - 1]))
            val.n--;

        int rc;
        if (span_is(&key, "Credential") && !have_cred) {
            have_cred = 1;
            rc = parse_credential(&val, out, err);
        } else if (span_is(&key, "SignedHeaders") && !have_headers) {
            have_headers = 1;
            rc = parse_signed_headers(&val, out, err);
        } else if (span_is(&key, "Signature") && !have_sig) {
            have_sig = 1;
            rc = parse_signature(&val, out, err);
        } else {
            rc = malformed(err, "unknown or repeated component (expected Credential, "
                                "SignedHeaders and Signature once each).");
        }
        if (rc)
            return rc;
        if (*p != ',')
            break;
        p++;
    }
    if (!have_cred)
        return malformed(err, "Authorization header requires 'Credential' parameter.");
    if (!have_headers)
        return malformed(err, "Authorization header requires 'SignedHeaders' parameter.");
    if (!have_sig)
        return malformed(err, "Authorization header requires 'Signature' parameter.");
    return 0;
}

static int read_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int stamp_valid(const struct stamp *t)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (t->mon < 1 || t->mon > 12 || t->hour > 23 || t->min > 59 || t->sec > 59)
        return 0;
    int leap = (t->year % 4 == 0 && t->year % 100 != 0) || t->year % 400 == 0;
    int dim = mdays[t->mon - 1] + (t->mon == 2 && leap);
    return t->day >= 1 && t->day <= dim;
}

/* X-Amz-Date: ISO 8601 basic, "20150830T123600Z", nothing else. */
static int parse_amz_date(const struct span *v, struct stamp *t)
{
    const char *s = v->p;
    if (v->n != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (read_digits(s, 4, &t->year) || read_digits(s + 4, 2, &t->mon) ||
        read_digits(s + 6, 2, &t->day) || read_digits(s + 9, 2, &t->hour) ||
        read_digits(s + 11, 2, &t->min) || read_digits(s + 13, 2, &t->sec))
        return -1;
    return stamp_valid(t) ? 0 : -1;
}

/* Date: RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT". botocore writes the zone as
 * "-0000" (email.utils.formatdate), so the numeric forms of UTC are accepted too. */
static int parse_http_date(const struct span *v, struct stamp *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char buf[40];
    if (v->n >= sizeof(buf))
        return -1;
    memcpy(buf, v->p, v->n);
    buf[v->n] = '\0';
    const char *s = buf;
    if (is_alpha(s[0]) && is_alpha(s[1]) && is_alpha(s[2]) && s[3] == ',' && s[4] == ' ')
        s += 5;
    size_t day_len = is_digit(s[0]) && is_digit(s[1]) ? 2 : 1;
    if (read_digits(s, day_len, &t->day) || s[day_len] != ' ')
        return -1;
    s += day_len + 1;
    t->mon = 0;
    for (int m = 0; m < 12; m++)
        if (strncmp(s, months + (ptrdiff_t)3 * m, 3) == 0)
            t->mon = m + 1;
    if (t->mon == 0 || s[3] != ' ')
        return -1;
    s += 4;
    if (read_digits(s, 4, &t->year) || s[4] != ' ' || read_digits(s + 5, 2, &t->hour) ||
        s[7] != ':' || read_digits(s + 8, 2, &t->min) || s[10] != ':' ||
        read_digits(s + 11, 2, &t->sec) || s[13] != ' ')
        return -1;
    s += 14;
    if (strcmp(s, "GMT") != 0 && strcmp(s, "UTC") != 0 && strcmp(s, "+0000") != 0 &&
        strcmp(s, "-0000") != 0)
        return -1;
    return stamp_valid(t) ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t stamp_seconds(const struct stamp *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 86400 + (int64_t)t->hour * 3600 +
           (int64_t)t->min * 60 + t->sec;
}

/* Formats seconds since the epoch as X-Amz-Date does, for messages only (inverse of
 * days_from_civil, Hinnant's civil_from_days). */
static void format_seconds(int64_t secs, char *out, size_t size)
{
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    /* Bounded to what the format can show: the values are in range by construction, and the
     * clamps let the compiler see that too. */
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    unsigned hh = (unsigned)(rem / 3600) % 24, mm = (unsigned)(rem % 3600 / 60) % 60,
             ss = (unsigned)(rem % 60) % 60;
    snprintf(out, size, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u, hh, mm, ss);
}

static int forbid(struct rp_err *err, const char *field, const char *msg)
{
    return rp_err_set(err, RP_EFORBIDDEN, field, "%s", msg);
}

/* Reads the request's date: X-Amz-Date, else Date. Fills amz (17 bytes) and *secs. */
static int request_date(const struct rp_sigv4_request *req, char *amz, int64_t *secs,
                        const char **from, struct rp_err *err)
{
    struct stamp t;
    size_t count;
    const char *v = find_header(req, "x-amz-date", 10, &count);
    *from = "x-amz-date";
    if (v) {
        struct span s = trim_ows(v);
        if (count > 1)
            return forbid(err, "X-Amz-Date", "The request has more than one X-Amz-Date header.");
        if (parse_amz_date(&s, &t))
            return forbid(err, "X-Amz-Date",
                          "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.");
    } else {
        v = find_header(req, "date", 4, &count);
        *from = "date";
        if (!v)
            return forbid(err, "X-Amz-Date",
                          "Authorization header requires existence of either a 'X-Amz-Date' or "
                          "a 'Date' header.");
        struct span s = trim_ows(v);
        if (count > 1)
            return forbid(err, "Date", "The request has more than one Date header.");
        if (parse_http_date(&s, &t))
            return forbid(err, "Date",
                          "Date must be an RFC 1123 date such as 'Sun, 30 Aug 2015 12:36:00 GMT'.");
    }
    snprintf(amz, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)t.year % 10000u,
             (unsigned)t.mon % 100u, (unsigned)t.day % 100u, (unsigned)t.hour % 100u,
             (unsigned)t.min % 100u, (unsigned)t.sec % 100u);
    *secs = stamp_seconds(&t);
    return 0;
}

static int check_skew(int64_t when, const char *amz, time_t now, int max_skew, struct rp_err *err)
{
    char bound[32];
    int64_t skew = max_skew > 0 ? max_skew : AWS_MAX_SKEW;
    /* when is a four-digit-year date and skew an int, so when +/- skew cannot overflow. */
    if ((int64_t)now > when + skew) {
        format_seconds((int64_t)now - skew, bound, sizeof(bound));
        return rp_err_set(err, RP_EFORBIDDEN, "X-Amz-Date",
                          "Signature expired: %s is now earlier than %s (server time minus %lld "
                          "s).",
                          amz, bound, (long long)skew);
    }
    if ((int64_t)now < when - skew) {
        format_seconds((int64_t)now + skew, bound, sizeof(bound));
        return rp_err_set(err, RP_EFORBIDDEN, "X-Amz-Date",
                          "Signature not yet current: %s is still later than %s (server time "
                          "plus %lld s).",
                          amz, bound, (long long)skew);
    }
    return 0;
}

/* The body check: a declared X-Amz-Content-SHA256 must be the hash of what arrived, so a body
 * changed in transit is named as such rather than as a bad signature. */
static int check_payload(const struct rp_sigv4_request *req, struct rp_err *err)
{
    size_t count;
    const char *v = find_header(req, "x-amz-content-sha256", 20, &count);
    if (!v)
        return 0;
    if (count > 1)
        return forbid(err, "X-Amz-Content-SHA256",
                      "The request has more than one x-amz-content-sha256 header.");
    struct span s = trim_ows(v);
    if (span_is(&s, "UNSIGNED-PAYLOAD") || (s.n >= 10 && memcmp(s.p, "STREAMING-", 10) == 0))
        return forbid(err, "X-Amz-Content-SHA256",
                      "x-amz-content-sha256 UNSIGNED-PAYLOAD (or streaming) is not accepted: "
                      "the request body must be signed.");
    int same = s.n == 64;
    for (size_t i = 0; same && i < 64; i++)
        same = lower(s.p[i]) == req->payload_sha256[i];
    if (!same)
        return forbid(err, "X-Amz-Content-SHA256",
                      "The provided 'x-amz-content-sha256' header does not match what was "
                      "computed: the body is not the one that was signed.");
    return 0;
}

static int signed_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static int check_signed_present(const struct rp_sigv4_request *req, const char *list,
                                struct rp_err *err)
{
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t count;
        if (!find_header(req, p, len, &count))
            return rp_err_set(err, RP_EFORBIDDEN, "SignedHeaders",
                              "The request's signed header '%.*s' is missing.",
                              (int)(len > 64 ? 64 : len), p);
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int rp_sigv4_verify(const struct rp_sigv4_request *req, const struct rp_sigv4_policy *policy,
                    time_t now, rp_sigv4_secret_fn secret_fn, void *secret_ctx,
                    char *access_key_out, struct rp_err *err)
{
    struct rp_sigv4_auth auth;
    char amz[17];
    const char *date_from;
    int64_t when = 0;
    size_t count;
    int rc;

    if (access_key_out)
        access_key_out[0] = '\0';
    if (!req || !policy || !policy->service || !secret_fn)
        return rp_err_set(err, RP_EINVAL, "", "sigv4: no request, policy service or key lookup");
    if (!req->payload_sha256)
        return rp_err_set(err, RP_EINVAL, "", "sigv4: payload hash missing");

    const char *header = find_header(req, "authorization", 13, &count);
    if (!header)
        return forbid(err, "Authorization",
                      "Missing Authentication Token: the request has no Authorization header.");
    if (count > 1)
        return forbid(err, "Authorization", "The request has more than one Authorization header.");
    if (rp_sigv4_parse_authorization(header, &auth, err))
        return RP_EFORBIDDEN;
    if (!signed_list_has(auth.signed_headers, "host"))
        return forbid(err, "SignedHeaders",
                      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

    rc = request_date(req, amz, &when, &date_from, err);
    if (rc)
        return rc;
    if (memcmp(auth.date, amz, 8) != 0)
        return rp_err_set(err, RP_EFORBIDDEN, "Credential",
                          "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                          "of date from HTTP: '%s' != '%.8s', from '%s'.",
                          auth.date, amz, date_from);
    rc = check_skew(when, amz, now, policy->max_skew_seconds, err);
    if (rc)
        return rc;
    if (strcmp(auth.service, policy->service) != 0)
        return rp_err_set(err, RP_EFORBIDDEN, "Credential",
                          "Credential should be scoped to correct service: '%.63s'.",
                          policy->service);
    if (policy->region && policy->region[0] && strcmp(auth.region, policy->region) != 0)
        return rp_err_set(err, RP_EFORBIDDEN, "Credential",
                          "Credential should be scoped to a valid region, not '%s'.", auth.region);

    const char *secret = secret_fn(secret_ctx, auth.access_key_id);
    if (!secret)
        return forbid(err, "Authorization",
                      "The security token included in the request is invalid: unknown access "
                      "key id.");

    rc = check_signed_present(req, auth.signed_headers, err);
    if (rc)
        return rc;
    rc = check_payload(req, err);
    if (rc)
        return rc;

    char creq[RP_SIGV4_MAX_CANONICAL];
    rc = rp_sigv4_canonical_request(req, auth.signed_headers, creq, sizeof(creq));
    if (rc == RP_ETOOBIG)
        return rp_err_set(err, RP_EFORBIDDEN, "",
                          "The request is too large to verify: its canonical form exceeds %d "
                          "bytes or %d query parameters.",
                          RP_SIGV4_MAX_CANONICAL, RP_SIGV4_MAX_QUERY);
    if (rc)
        return forbid(err, "", "The request's method or query cannot be canonicalised.");

    char scope[160], sts[320], expected[65];
    unsigned char key[32], mac[32];
    snprintf(scope, sizeof(scope), "%s/%s/%s/" TERMINATOR, auth.date, auth.region, auth.service);
    rc = rp_sigv4_string_to_sign(amz, scope, creq, sts, sizeof(sts));
    if (rc == 0)
        rc = signing_key(secret, auth.date, auth.region, auth.service, key);
    if (rc == 0)
        rc = hmac_sha256(key, sizeof(key), sts, strlen(sts), mac);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        return rp_err_set(err, rc, "", "sigv4: could not compute the signature");
    to_hex(mac, sizeof(mac), expected);
    if (CRYPTO_memcmp(expected, auth.signature, 64) != 0)
        return forbid(err, "Signature", MSG_SIGNATURE_MISMATCH);

    if (access_key_out)
        memcpy(access_key_out, auth.access_key_id, sizeof(auth.access_key_id));
    return 0;
}
