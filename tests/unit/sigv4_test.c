/* Tests for gateway/sigv4.c: the AWS test-suite vectors, requests signed by botocore and by the
 * JS SDK v3 (tests/unit/data/sigv4/, see its README.md), and every refusal path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rc.h"
#include "sigv4.h"

#define DATA       "data/sigv4/"
#define MAX_FIELDS 64

static const char *const SUITE_KEY = "AKIDEXAMPLE";
static const char *const SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static const char *const RP_KEY = "AKIAREPOINTEXAMPLE01";
static const char *const RP_SECRET = "rePoint/Secret+Key0123456789EXAMPLEKEYab";
static const char *const LONG_KEY = "AKIAREPOINTLONGKEY02";

/* The time gen_botocore.py and gen_jssdk.cjs sign at: 2024-05-01T12:00:00Z. */
#define SIGNED_AT ((time_t)1714564800)

static char long_secret[128];

static const char *lookup_secret(void *ctx, const char *key)
{
    (void)ctx;
    if (strcmp(key, SUITE_KEY) == 0)
        return SUITE_SECRET;
    if (strcmp(key, RP_KEY) == 0)
        return RP_SECRET;
    if (strcmp(key, LONG_KEY) == 0)
        return long_secret;
    return NULL;
}

static const char *wrong_secret(void *ctx, const char *key)
{
    (void)ctx;
    (void)key;
    return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz";
}

/* Reads a whole file; returns new memory (NUL-terminated) or NULL when it does not exist. */
static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len_out)
        *len_out = (size_t)n;
    return buf;
}

/* One vector's request, loaded from NAME.req and NAME.authz; every string points into text. */
struct vec {
    char name[160];
    char *text;
    char *authz;
    char *path;
    struct rp_kv query[MAX_FIELDS];
    struct rp_kv headers[MAX_FIELDS];
    char hash[65];
    struct rp_sigv4_request req;
};

/* Parses "METHOD target HTTP/1.1\nName:value\n...\n\nbody" as the suite's .req files are. */
static void vec_load(struct vec *v, const char *base)
{
    char path[512];
    size_t len;
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", base);
    snprintf(path, sizeof(path), DATA "%s.req", base);
    v->text = slurp(path, &len);
    if (!v->text)
        fail_msg("%s: cannot read", path);

    char *body = strstr(v->text, "\n\n");
    size_t body_len = 0;
    if (body) {
        *body = '\0';
        body += 2;
        body_len = len - (size_t)(body - v->text);
    }
    assert_int_equal(rp_sigv4_sha256_hex(body, body_len, v->hash), 0);

    char *line = v->text;
    char *eol = strchr(line, '\n');
    if (eol)
        *eol = '\0';
    char *sp = strchr(line, ' ');
    char *proto = strrchr(line, ' ');
    assert_true(sp && proto && proto > sp);
    *sp = '\0';
    *proto = '\0';
    v->req.method = line;
    v->path = sp + 1;
    char *q = strchr(v->path, '?');
    if (q) {
        *q++ = '\0';
        while (q && *q) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp++ = '\0';
            char *eq = strchr(q, '=');
            if (eq)
                *eq++ = '\0';
            assert_true(v->req.n_query < MAX_FIELDS);
            v->query[v->req.n_query].name = q;
            v->query[v->req.n_query].value = eq;
            v->req.n_query++;
            q = amp;
        }
    }
    while (eol) {
        line = eol + 1;
        eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        char *colon = strchr(line, ':');
        assert_non_null(colon);
        *colon = '\0';
        assert_true(v->req.n_headers < MAX_FIELDS - 1);
        v->headers[v->req.n_headers].name = line;
        v->headers[v->req.n_headers].value = colon + 1;
        v->req.n_headers++;
    }

    snprintf(path, sizeof(path), DATA "%s.authz", base);
    v->authz = slurp(path, &len);
    if (!v->authz)
        fail_msg("%s: cannot read", path);
    while (len && (v->authz[len - 1] == '\n' || v->authz[len - 1] == '\r'))
        v->authz[--len] = '\0';
    v->headers[v->req.n_headers].name = "Authorization";
    v->headers[v->req.n_headers].value = v->authz;
    v->req.n_headers++;

    v->req.raw_path = v->path;
    v->req.query = v->query;
    v->req.headers = v->headers;
    v->req.payload_sha256 = v->hash;
}

static void vec_free(struct vec *v)
{
    free(v->text);
    free(v->authz);
}

static struct rp_kv *vec_header(struct vec *v, const char *name)
{
    for (size_t i = 0; i < v->req.n_headers; i++)
        if (strcasecmp(v->headers[i].name, name) == 0)
            return &v->headers[i];
    return NULL;
}

static void vec_drop_header(struct vec *v, const char *name)
{
    struct rp_kv *h = vec_header(v, name);
    assert_non_null(h);
    size_t i = (size_t)(h - v->headers);
    memmove(&v->headers[i], &v->headers[i + 1], (v->req.n_headers - i - 1) * sizeof(v->headers[0]));
    v->req.n_headers--;
}

static void vec_add_header(struct vec *v, const char *name, const char *value)
{
    assert_true(v->req.n_headers < MAX_FIELDS);
    v->headers[v->req.n_headers].name = name;
    v->headers[v->req.n_headers].value = value;
    v->req.n_headers++;
}

/* Checks one vector: canonical request, string to sign (when the vector has them), the full
 * verification, and that a one-character change to the signature is refused. */
static void check_vector(const char *dir, const char *name, const char *service, const char *region,
                         time_t now)
{
    char base[256], path[512];
    struct vec v;
    struct rp_sigv4_auth auth;
    struct rp_err err;
    char key[129];

    snprintf(base, sizeof(base), "%s/%s", dir, name);
    vec_load(&v, base);
    if (rp_sigv4_parse_authorization(v.authz, &auth, &err) != 0)
        fail_msg("%s: authorization refused: %s", base, err.msg);

    snprintf(path, sizeof(path), DATA "%s.creq", base);
    char *want_creq = slurp(path, NULL);
    if (want_creq) {
        char creq[RP_SIGV4_MAX_CANONICAL], sts[512];
        assert_int_equal(
            rp_sigv4_canonical_request(&v.req, auth.signed_headers, creq, sizeof(creq)), 0);
        if (strcmp(creq, want_creq) != 0)
            fail_msg("%s: canonical request\n--- got\n%s\n--- want\n%s", base, creq, want_creq);

        snprintf(path, sizeof(path), DATA "%s.sts", base);
        char *want_sts = slurp(path, NULL);
        assert_non_null(want_sts);
        char amz[17], scope[128];
        assert_int_equal(sscanf(want_sts, "AWS4-HMAC-SHA256\n%16s\n%127s\n", amz, scope), 2);
        assert_int_equal(rp_sigv4_string_to_sign(amz, scope, creq, sts, sizeof(sts)), 0);
        if (strcmp(sts, want_sts) != 0)
            fail_msg("%s: string to sign\n--- got\n%s\n--- want\n%s", base, sts, want_sts);
        free(want_sts);
        free(want_creq);
    }

    struct rp_sigv4_policy policy = {.service = service, .region = region, .max_skew_seconds = 900};
    int rc = rp_sigv4_verify(&v.req, &policy, now, lookup_secret, NULL, key, &err);
    if (rc != 0)
        fail_msg("%s: refused (%s): %s", base, rp_rc_name(rc), err.msg);
    assert_string_equal(key, auth.access_key_id);

    char *sig = strstr(v.authz, "Signature=") + 10;
    *sig = *sig == '0' ? '1' : '0';
    rc = rp_sigv4_verify(&v.req, &policy, now, lookup_secret, NULL, key, &err);
    if (rc != RP_EFORBIDDEN || !strstr(err.msg, "signature we calculated does not match"))
        fail_msg("%s: altered signature not refused as such: %s", base, err.msg);
    assert_string_equal(key, "");
    vec_free(&v);
}

static void check_dir(const char *dir, size_t min_vectors)
{
    char path[256], line[512];
    snprintf(path, sizeof(path), DATA "%s/vectors.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: cannot read", path);
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        char name[160], service[64], region[64];
        long long now;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        assert_int_equal(sscanf(line, "%159s %63s %63s %lld", name, service, region, &now), 4);
        check_vector(dir, name, service, region, (time_t)now);
        n++;
    }
    fclose(f);
    print_message("  %zu vectors in %s\n", n, dir);
    assert_true(n >= min_vectors);
}

static void test_aws_suite(void **state)
{
    (void)state;
    check_dir("suite", 30);
}

static void test_botocore_2011_suite(void **state)
{
    (void)state;
    check_dir("legacy", 2);
}

static void test_botocore_signed(void **state)
{
    (void)state;
    check_dir("botocore", 16);
}

static void test_jssdk_signed(void **state)
{
    (void)state;
    check_dir("jssdk", 7);
}

/* Canonical forms for hand-made requests, checked through rp_sigv4_canonical_request. */
static void canon(const char *path, const struct rp_kv *query, size_t n_query,
                  const struct rp_kv *headers, size_t n_headers, const char *signed_headers,
                  const char *want)
{
    char out[RP_SIGV4_MAX_CANONICAL];
    struct rp_sigv4_request req = {.method = "GET",
                                   .raw_path = path,
                                   .query = query,
                                   .n_query = n_query,
                                   .headers = headers,
                                   .n_headers = n_headers,
                                   .payload_sha256 = "ph"};
    assert_int_equal(rp_sigv4_canonical_request(&req, signed_headers, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_canonical_uri(void **state)
{
    (void)state;
    static const struct rp_kv host[] = {{"Host", "h"}};
    static const struct {
        const char *raw, *canonical;
    } cases[] = {
        {"", "/"},
        {NULL, "/"},
        {"/", "/"},
        {"/a/./b/../c", "/a/c"},
        {"/a/b/", "/a/b/"},
        {"/..", "/"},
        {"/../../a", "/a"},
        {"//a//b//", "/a/b/"},
        {"/a/..", "/"},
        {"/a/../", "/"},
        {"a/b", "a/b"},
        {".", ""},
        {"/%2E%2E/x", "/%252E%252E/x"},
        {"/v1/apps/app%3A1%40x%20y", "/v1/apps/app%253A1%2540x%2520y"},
        {"/caf\xc3\xa9/~x", "/caf%C3%A9/~x"},
        {"/a+b=c;d", "/a%2Bb%3Dc%3Bd"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[256];
        snprintf(want, sizeof(want), "GET\n%s\n\nhost:h\n\nhost\nph", cases[i].canonical);
        canon(cases[i].raw, NULL, 0, host, 1, "host", want);
    }
}

static void test_canonical_query(void **state)
{
    (void)state;
    static const struct rp_kv host[] = {{"Host", "h"}};
    static const struct rp_kv q1[] = {{"b", "1"}, {"a", "2"}, {"a", "1"}, {"flag", NULL}};
    canon("/", q1, 4, host, 1, "host", "GET\n/\na=1&a=2&b=1&flag=\nhost:h\n\nhost\nph");
    /* '+' is not a space; escapes are normalised to upper case; a stray '%' is data. */
    static const struct rp_kv q2[] = {{"a+b", "c%20d"}, {"k%3a", "%zz%4"}, {"t", "a%2Fb"}};
    canon("/", q2, 3, host, 1, "host",
          "GET\n/\na%2Bb=c%20d&k%3A=%25zz%254&t=a%2Fb\nhost:h\n\nhost\nph");
    /* Sorting is on the encoded form: '%' (0x25) sorts before '-' and letters. */
    static const struct rp_kv q3[] = {{"a-b", "1"}, {"a b", "2"}, {"A", "3"}};
    canon("/", q3, 3, host, 1, "host", "GET\n/\nA=3&a%20b=2&a-b=1\nhost:h\n\nhost\nph");
}

static void test_canonical_headers(void **state)
{
    (void)state;
    static const struct rp_kv h[] = {
        {"HOST", " h "}, {"X-A", "\t two \t\r\n words "}, {"x-a", ""},
        {"X-B", "   "},  {"x-unsigned", "zzz"},           {"X-Amz-Content-SHA256", " abc "},
    };
    /* SignedHeaders may arrive unsorted: canonical headers are sorted, the list is kept. */
    canon("/", NULL, 0, h, 6, "x-b;host;x-a",
          "GET\n/\n\nhost:h\nx-a:two words,\nx-b:\n\nx-b;host;x-a\nabc");
}

static void test_canonical_errors(void **state)
{
    (void)state;
    char out[64];
    static const struct rp_kv h[] = {{"Host", "h"}};
    struct rp_sigv4_request req = {
        .method = "GET", .raw_path = "/", .headers = h, .n_headers = 1, .payload_sha256 = "ph"};
    assert_int_equal(rp_sigv4_canonical_request(&req, "host;x-missing", out, sizeof(out)),
                     RP_EINVAL);
    assert_int_equal(rp_sigv4_canonical_request(&req, "host;host", out, sizeof(out)), RP_EINVAL);
    assert_int_equal(rp_sigv4_canonical_request(&req, "", out, sizeof(out)), RP_EINVAL);
    assert_int_equal(rp_sigv4_canonical_request(&req, "Host", out, sizeof(out)), RP_EINVAL);
    assert_int_equal(rp_sigv4_canonical_request(&req, "host;", out, sizeof(out)), RP_EINVAL);
    assert_int_equal(rp_sigv4_canonical_request(&req, "host", out, 10), RP_ETOOBIG);
    assert_string_equal(out, "");
    req.method = "GE T";
    assert_int_equal(rp_sigv4_canonical_request(&req, "host", out, sizeof(out)), RP_EINVAL);
    req.method = "GET";
    req.payload_sha256 = NULL;
    assert_int_equal(rp_sigv4_canonical_request(&req, "host", out, sizeof(out)), RP_EINVAL);
    assert_int_equal(rp_sigv4_string_to_sign("d", "s", "c", out, 20), RP_ETOOBIG);
}

static void test_sha256_hex(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(rp_sigv4_sha256_hex(NULL, 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(rp_sigv4_sha256_hex("Param1=value1", 13, hex), 0);
    assert_string_equal(hex, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

static void test_parse_authorization(void **state)
{
    (void)state;
    struct rp_sigv4_auth a;
    struct rp_err err;
    /* Any order, any spacing around commas, upper-case hex. */
    assert_int_equal(
        rp_sigv4_parse_authorization(
            "  AWS4-HMAC-SHA256   Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1"
            "D763FBF31 ,SignedHeaders=host;x-amz-date,Credential=AKIDEXAMPLE/20150830/us-east-1/"
            "service/aws4_request  ",
            &a, &err),
        0);
    assert_string_equal(a.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(a.date, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "service");
    assert_string_equal(a.signed_headers, "host;x-amz-date");
    assert_string_equal(a.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

#define SIG  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
    static const struct {
        const char *header, *msg;
    } bad[] = {
        {"", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA1 " CRED ", SignedHeaders=host, Signature=" SIG, "AWS4-HMAC-SHA256"},
        {"Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256Credential=x", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256 ", "expected Credential="},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host", "requires 'Signature'"},
        {"AWS4-HMAC-SHA256 " CRED ", Signature=" SIG, "requires 'SignedHeaders'"},
        {"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" SIG, "requires 'Credential'"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=" SIG ",", "expected"},
        {"AWS4-HMAC-SHA256 " CRED ", " CRED ", SignedHeaders=host, Signature=" SIG, "repeated"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=" SIG ", Foo=bar", "unknown"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=abc", "64 hexadecimal"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=" SIG "0", "64 hexadecimal"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host, Signature=g" SIG "", "64 hexadecimal"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, Signature=" SIG, "SignedHeaders"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host, Signature=" SIG, "SignedHeaders"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x, Signature=" SIG, "SignedHeaders"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;host, Signature=" SIG, "twice"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, "
         "SignedHeaders=host, Signature=" SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/x, "
         "SignedHeaders=host, Signature=" SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=host, Signature=" SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, "
         "SignedHeaders=host, Signature=" SIG,
         "YYYYMMDD"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/201508300/us-east-1/service/aws4_request, "
         "SignedHeaders=host, Signature=" SIG,
         "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083x/us-east-1/service/aws4_request, "
         "SignedHeaders=host, Signature=" SIG,
         "YYYYMMDD"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, "
         "SignedHeaders=host, Signature=" SIG,
         "terminator"},
        {"AWS4-HMAC-SHA256 Credential=AKID EXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=host, Signature=" SIG,
         "Credential must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        if (rp_sigv4_parse_authorization(bad[i].header, &a, &err) != RP_EINVAL ||
            !strstr(err.msg, bad[i].msg))
            fail_msg("case %zu (%s): got '%s', want '%s'", i, bad[i].header, err.msg, bad[i].msg);
    }
    assert_int_equal(rp_sigv4_parse_authorization(NULL, &a, &err), RP_EINVAL);
    assert_int_equal(rp_sigv4_parse_authorization("x", NULL, &err), RP_EINVAL);
}

/* Runs rp_sigv4_verify and checks it refuses with a message that names the failed check. */
static void expect_refusal(struct vec *v, const struct rp_sigv4_policy *policy, time_t now,
                           rp_sigv4_secret_fn fn, const char *want)
{
    struct rp_err err;
    char key[129] = "stale";
    rp_err_clear(&err);
    int rc = rp_sigv4_verify(&v->req, policy, now, fn, NULL, key, &err);
    if (rc != RP_EFORBIDDEN || !strstr(err.msg, want))
        fail_msg("%s: got %s '%s', want FORBIDDEN '%s'", v->name, rp_rc_name(rc), err.msg, want);
    assert_string_equal(key, "");
}

static void expect_accepted(struct vec *v, const struct rp_sigv4_policy *policy, time_t now)
{
    struct rp_err err;
    char key[129];
    int rc = rp_sigv4_verify(&v->req, policy, now, lookup_secret, NULL, key, &err);
    if (rc != 0)
        fail_msg("%s: refused: %s", v->name, err.msg);
}

static const struct rp_sigv4_policy PINPOINT = {"mobiletargeting", "us-east-1", 900};

static void test_refuse_authorization(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-apps");
    expect_accepted(&v, &PINPOINT, SIGNED_AT);

    struct rp_kv *authz = vec_header(&v, "authorization");
    authz->name = "AUTHORIZATION";
    expect_accepted(&v, &PINPOINT, SIGNED_AT);

    vec_add_header(&v, "Authorization", v.authz);
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "more than one Authorization");
    v.req.n_headers--;

    authz->value = "AWS4-HMAC-SHA256 Credential=AKIAREPOINTEXAMPLE01/20240501/us-east-1/"
                   "mobiletargeting/aws4_request, SignedHeaders=host;x-amz-date";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "requires 'Signature'");
    authz->value = "Bearer abc";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "malformed");

    vec_drop_header(&v, "authorization");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "Missing Authentication Token");
    vec_free(&v);
}

static void test_refuse_key_and_secret(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-apps");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, wrong_secret, "signature we calculated does not");

    char other[512];
    char *at = strstr(v.authz, RP_KEY);
    snprintf(other, sizeof(other), "%.*sAKIAUNKNOWNEXAMPLE99%s", (int)(at - v.authz), v.authz,
             at + strlen(RP_KEY));
    vec_header(&v, "authorization")->value = other;
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret,
                   "security token included in the request is invalid");
    vec_free(&v);
}

static void test_refuse_scope(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-apps");

    struct rp_sigv4_policy policy = PINPOINT;
    policy.service = "ses";
    expect_refusal(&v, &policy, SIGNED_AT, lookup_secret, "scoped to correct service: 'ses'");

    policy = PINPOINT;
    policy.region = "eu-west-1";
    expect_refusal(&v, &policy, SIGNED_AT, lookup_secret, "valid region, not 'us-east-1'");
    policy.region = NULL;
    expect_accepted(&v, &policy, SIGNED_AT);
    policy.region = "";
    expect_accepted(&v, &policy, SIGNED_AT);

    /* The scope's date must be the request's date, even a valid signature for another day. */
    char *d = strstr(v.authz, "/20240501/");
    memcpy(d, "/20240502/", 10);
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                   "from HTTP: '20240502' != '20240501', from 'x-amz-date'.");
    vec_free(&v);
}

static void test_refuse_dates(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-apps");

    /* 15 minutes either way is still fine; 16 minutes is not. */
    expect_accepted(&v, &PINPOINT, SIGNED_AT + 900);
    expect_accepted(&v, &PINPOINT, SIGNED_AT - 900);
    expect_refusal(&v, &PINPOINT, SIGNED_AT + 960, lookup_secret,
                   "Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z");
    expect_refusal(&v, &PINPOINT, SIGNED_AT - 960, lookup_secret,
                   "Signature not yet current: 20240501T120000Z is still later than "
                   "20240501T115900Z");
    struct rp_sigv4_policy tight = PINPOINT;
    tight.max_skew_seconds = 60;
    expect_refusal(&v, &tight, SIGNED_AT + 61, lookup_secret, "Signature expired");
    tight.max_skew_seconds = 0;
    expect_accepted(&v, &tight, SIGNED_AT + 900);
    expect_refusal(&v, &PINPOINT, (time_t)INT64_MAX, lookup_secret, "Signature expired");
    expect_refusal(&v, &PINPOINT, (time_t)INT64_MIN, lookup_secret, "not yet current");

    struct rp_kv *date = vec_header(&v, "x-amz-date");
    static const char *const bad[] = {"2024-05-01T12:00:00Z", "20240501T120000",
                                      "20240501T250000Z",     "20240230T120000Z",
                                      "20240501t120000Z",     "2024050XT120000Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        date->value = bad[i];
        expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "ISO 8601 basic format");
    }
    date->value = " 20240501T120000Z ";
    expect_accepted(&v, &PINPOINT, SIGNED_AT);
    vec_add_header(&v, "x-amz-date", "20240501T120000Z");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "more than one X-Amz-Date");
    v.req.n_headers--;

    vec_drop_header(&v, "x-amz-date");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret,
                   "requires existence of either a 'X-Amz-Date' or a 'Date' header");
    vec_add_header(&v, "Date", "Wed, 01 May 2024 12:00:00 PST");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "RFC 1123");
    vec_free(&v);

    /* Signed with a Date header (botocore writes "-0000"). Date is a signed header, so other
     * spellings of the same instant are read (no RFC 1123 complaint) but no longer match. */
    vec_load(&v, "botocore/manual-date-header");
    expect_accepted(&v, &PINPOINT, SIGNED_AT);
    date = vec_header(&v, "date");
    static const char *const spellings[] = {
        "Wed, 01 May 2024 12:00:00 GMT", "Wed, 01 May 2024 12:00:00 +0000",
        "01 May 2024 12:00:00 UTC", "Wed, 1 May 2024 12:00:00 GMT"};
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        date->value = spellings[i];
        expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "signature we calculated");
    }
    static const char *const bad_dates[] = {"Wed, 01 Mai 2024 12:00:00 GMT",
                                            "Wed, 01 May 2024 12:00:00",
                                            "Wed, 01 May 2024",
                                            "Wed, 31 Apr 2024 12:00:00 GMT",
                                            "Wed,",
                                            "Wed, 01 May 2024 12:00:00 GMT+1"};
    for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
        date->value = bad_dates[i];
        expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "RFC 1123");
    }
    date->value = "Thu, 02 May 2024 12:00:00 GMT";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "from 'date'");
    vec_free(&v);
}

static void test_refuse_signed_headers(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/manual-jsv3-post");
    expect_accepted(&v, &PINPOINT, SIGNED_AT);

    vec_drop_header(&v, "amz-sdk-request");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret,
                   "signed header 'amz-sdk-request' is missing");
    vec_add_header(&v, "amz-sdk-request", "attempt=1; max=3");
    expect_accepted(&v, &PINPOINT, SIGNED_AT);

    /* A signed header's value changed in transit. */
    vec_header(&v, "content-type")->value = "text/plain";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "signature we calculated");
    vec_header(&v, "content-type")->value = "application/json";

    /* Extra unsigned headers are fine; a repeated signed header changes the signature. */
    vec_add_header(&v, "X-Forwarded-For", "10.0.0.1");
    expect_accepted(&v, &PINPOINT, SIGNED_AT);
    vec_add_header(&v, "Content-Type", "application/json");
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "signature we calculated");
    vec_free(&v);

    /* host must be signed, even when everything else is consistent. */
    vec_load(&v, "botocore/manual-date-header");
    char *sh = strstr(v.authz, "SignedHeaders=date;host;x-custom");
    assert_non_null(sh);
    memcpy(sh, "SignedHeaders=date;hxst;x-custom", 32);
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "'Host' or ':authority' must be");
    vec_free(&v);
}

static void test_refuse_payload(void **state)
{
    (void)state;
    struct vec v;
    char tampered[65];

    /* With x-amz-content-sha256: the body no longer matches the declared hash. */
    vec_load(&v, "botocore/manual-jsv3-post");
    assert_int_equal(rp_sigv4_sha256_hex("{\"MessageRequest\":{}}", 21, tampered), 0);
    v.req.payload_sha256 = tampered;
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret,
                   "'x-amz-content-sha256' header does not match what was computed");
    v.req.payload_sha256 = v.hash;

    struct rp_kv *declared = vec_header(&v, "x-amz-content-sha256");
    declared->value = "UNSIGNED-PAYLOAD";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "UNSIGNED-PAYLOAD");
    declared->value = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "UNSIGNED-PAYLOAD");
    declared->value = "";
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "does not match what was computed");
    declared->value = v.hash;
    vec_add_header(&v, "x-amz-content-sha256", v.hash);
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "more than one x-amz-content-sha256");
    vec_free(&v);

    /* The JS SDK signs x-amz-content-sha256 too. */
    vec_load(&v, "jssdk/js-send-messages");
    struct rp_sigv4_policy eu = {"mobiletargeting", "eu-west-1", 900};
    expect_accepted(&v, &eu, SIGNED_AT);
    v.req.payload_sha256 = tampered;
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "does not match what was computed");
    vec_free(&v);

    /* Without x-amz-content-sha256 (botocore): the body hash is in the canonical request, so a
     * changed body is a signature mismatch. */
    vec_load(&v, "botocore/client-send-messages");
    expect_accepted(&v, &eu, SIGNED_AT);
    v.req.payload_sha256 = tampered;
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "signature we calculated does not match");
    vec_free(&v);
}

static void test_refuse_tampered_request(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-segments");
    struct rp_sigv4_policy eu = {"mobiletargeting", "eu-west-1", 900};
    expect_accepted(&v, &eu, SIGNED_AT);

    v.req.raw_path = "/v1/apps/app%3A3/segments";
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "signature we calculated");
    v.req.raw_path = v.path;
    v.req.method = "DELETE";
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "signature we calculated");
    v.req.method = "GET";
    v.query[0].value = "6";
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "signature we calculated");
    v.query[0].value = "5";
    /* Query order on the wire does not matter; the canonical form sorts. */
    struct rp_kv first = v.query[0];
    v.query[0] = v.query[1];
    v.query[1] = first;
    expect_accepted(&v, &eu, SIGNED_AT);
    v.req.n_query = 1;
    expect_refusal(&v, &eu, SIGNED_AT, lookup_secret, "signature we calculated");
    vec_free(&v);
}

static void test_refuse_too_big(void **state)
{
    (void)state;
    struct vec v;
    vec_load(&v, "botocore/client-get-apps");
    size_t n = RP_SIGV4_MAX_CANONICAL + 10;
    char *path = malloc(n + 1);
    assert_non_null(path);
    path[0] = '/';
    memset(path + 1, 'a', n - 1);
    path[n] = '\0';
    v.req.raw_path = path;
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "too large to verify");

    /* Every byte escaped triples: a third of the bound is already too much. */
    memset(path + 1, ':', n / 3);
    path[n / 3 + 1] = '\0';
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "too large to verify");
    v.req.raw_path = v.path;

    struct rp_kv *many = calloc(RP_SIGV4_MAX_QUERY + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= RP_SIGV4_MAX_QUERY; i++)
        many[i].name = "a";
    v.req.query = many;
    v.req.n_query = RP_SIGV4_MAX_QUERY + 1;
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "too large to verify");
    v.req.n_query = RP_SIGV4_MAX_QUERY;
    expect_refusal(&v, &PINPOINT, SIGNED_AT, lookup_secret, "signature we calculated");
    free(many);
    free(path);
    vec_free(&v);
}

static void test_caller_mistakes(void **state)
{
    (void)state;
    struct vec v;
    struct rp_err err;
    vec_load(&v, "botocore/client-get-apps");
    assert_int_equal(rp_sigv4_verify(NULL, &PINPOINT, SIGNED_AT, lookup_secret, NULL, NULL, &err),
                     RP_EINVAL);
    assert_int_equal(rp_sigv4_verify(&v.req, NULL, SIGNED_AT, lookup_secret, NULL, NULL, &err),
                     RP_EINVAL);
    assert_int_equal(rp_sigv4_verify(&v.req, &PINPOINT, SIGNED_AT, NULL, NULL, NULL, &err),
                     RP_EINVAL);
    v.req.payload_sha256 = NULL;
    assert_int_equal(rp_sigv4_verify(&v.req, &PINPOINT, SIGNED_AT, lookup_secret, NULL, NULL, NULL),
                     RP_EINVAL);
    v.req.payload_sha256 = v.hash;
    assert_int_equal(rp_sigv4_verify(&v.req, &PINPOINT, SIGNED_AT, lookup_secret, NULL, NULL, NULL),
                     0);
    vec_free(&v);
}

int main(void)
{
    /* gen_botocore.py's LONG_CREDS secret: 'L0ng/' + 'x' * 90 + '+end'. */
    memcpy(long_secret, "L0ng/", 5);
    memset(long_secret + 5, 'x', 90);
    memcpy(long_secret + 95, "+end", 5);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_botocore_2011_suite),
        cmocka_unit_test(test_botocore_signed),
        cmocka_unit_test(test_jssdk_signed),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_canonical_headers),
        cmocka_unit_test(test_canonical_errors),
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_refuse_authorization),
        cmocka_unit_test(test_refuse_key_and_secret),
        cmocka_unit_test(test_refuse_scope),
        cmocka_unit_test(test_refuse_dates),
        cmocka_unit_test(test_refuse_signed_headers),
        cmocka_unit_test(test_refuse_payload),
        cmocka_unit_test(test_refuse_tampered_request),
        cmocka_unit_test(test_refuse_too_big),
        cmocka_unit_test(test_caller_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
