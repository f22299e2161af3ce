/* S3-compatible object storage over libcurl (s3.h). */
#include "s3.h"
#include "config.h"
#include "rc.h"
#include "util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_BODY_MAX (8u << 20)  /* a ListObjectsV2 page of 1000 keys is far below this */
#define ERROR_BODY_MAX 4096

static int truthy(const char *v)
{
    return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
           strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

void rp_s3_conf_load(struct rp_s3_conf *conf, const struct rp_config *cfg)
{
    memset(conf, 0, sizeof(*conf));
    snprintf(conf->region, sizeof(conf->region), "%s", rp_config_str(cfg, "s3.region"));
    const char *ep = rp_config_str(cfg, "s3.endpoint");
    if (*ep)
        snprintf(conf->endpoint, sizeof(conf->endpoint), "%s", ep);
    else
        snprintf(conf->endpoint, sizeof(conf->endpoint), "https://s3.%s.amazonaws.com",
                 conf->region);
    size_t n = strlen(conf->endpoint);
    while (n && conf->endpoint[n - 1] == '/')
        conf->endpoint[--n] = '\0';
    snprintf(conf->access_key, sizeof(conf->access_key), "%s",
             rp_config_str(cfg, "s3.access_key_id"));
    snprintf(conf->secret_key, sizeof(conf->secret_key), "%s",
             rp_config_str(cfg, "s3.secret_access_key"));
    snprintf(conf->ca_file, sizeof(conf->ca_file), "%s", rp_config_str(cfg, "tls.ca_file"));
    conf->path_style = truthy(rp_config_str(cfg, "s3.path_style"));
}

void rp_s3_encode_key(const char *key, char *out, size_t size, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p && o + 4 < size; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* scheme://bucket.host/key or scheme://host/bucket/key, plus the query. */
static char *object_url(const struct rp_s3_conf *conf, const char *bucket, const char *key,
                        const char *query)
{
    size_t klen = strlen(key) * 3 + 1;
    char *ekey = rp_malloc(klen);
    rp_s3_encode_key(key, ekey, klen, 1);
    size_t size = strlen(conf->endpoint) + strlen(bucket) + klen + strlen(query) + 8;
    char *url = rp_malloc(size);
    const char *sep = strstr(conf->endpoint, "://");
    if (conf->path_style || !sep) {
        snprintf(url, size, "%s/%s/%s%s", conf->endpoint, bucket, ekey, query);
    } else {
        int scheme_len = (int)(sep - conf->endpoint) + 3;
        snprintf(url, size, "%.*s%s.%s/%s%s", scheme_len, conf->endpoint, bucket,
                 conf->endpoint + scheme_len, ekey, query);
    }
    free(ekey);
    return url;
}

struct sink {
    rp_s3_data_fn fn; /* streaming target for 2xx bodies, or NULL to collect */
    void *ud;
    char *buf;
    size_t len, cap, max;
    long status;
    CURL *curl;
    int aborted;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (!s->status)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->fn && s->status >= 200 && s->status < 300) {
        if (s->fn(s->ud, ptr, n)) {
            s->aborted = 1;
            return 0;
        }
        return n;
    }
    size_t keep = s->len + n > s->max ? s->max - s->len : n;
    if (s->len + keep + 1 > s->cap) {
        s->cap = (s->len + keep + 1) * 2;
        s->buf = rp_realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, ptr, keep);
    s->len += keep;
    s->buf[s->len] = '\0';
    return n;
}

struct upload {
    const char *data;
    size_t len, off;
};

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct upload *u = userdata;
    size_t n = size * nmemb;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(ptr, u->data + u->off, n);
    u->off += n;
    return n;
}

/* The text of one XML element in body (first occurrence after from), copied into out. */
static const char *xml_text(const char *from, const char *tag, char *out, size_t size)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = strstr(from, open);
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return NULL;
    size_t n = (size_t)(b - a);
    if (n >= size)
        n = size - 1;
    memcpy(out, a, n);
    out[n] = '\0';
    return b + strlen(close);
}

/* Undoes the five XML entities S3 uses in keys. */
static void xml_unescape(char *s)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *w = s;
    for (const char *r = s; *r;) {
        int done = 0;
        for (size_t i = 0; i < 5 && !done; i++) {
            size_t n = strlen(ents[i].ent);
            if (strncmp(r, ents[i].ent, n) == 0) {
                *w++ = ents[i].ch;
                r += n;
                done = 1;
            }
        }
        if (!done)
            *w++ = *r++;
    }
    *w = '\0';
}

/* Runs one signed request. Returns 0 for a 2xx, else an rc with err naming S3's answer. */
static int perform(const struct rp_s3_conf *conf, const char *method, const char *url,
                   struct sink *sink, struct upload *up, const char *content_type,
                   struct rp_err *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return rp_err_set(err, RP_EIO, "S3", "cannot start a request");
    char sigv4[128], userpwd[520];
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", conf->region);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", conf->access_key, conf->secret_key);
    struct curl_slist *headers = NULL;
    /* S3 wants the payload hash signed in; an unsigned payload is allowed over any transport
     * S3 accepts, and the body is not kept around to hash twice. */
    headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (content_type) {
        char ctype[128];
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ctype);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (conf->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, conf->ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    sink->curl = c;
    if (up) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, up);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (sink->aborted)
        return rp_err_set(err, RP_EIO, "S3", "reading stopped");
    if (cc != CURLE_OK)
        return rp_err_set(err, RP_EIO, "S3", "%s", curl_easy_strerror(cc));
    if (status >= 200 && status < 300)
        return 0;
    char code[128] = "", message[256] = "";
    if (sink->buf) {
        xml_text(sink->buf, "Code", code, sizeof(code));
        xml_text(sink->buf, "Message", message, sizeof(message));
    }
    int rc = status == 403 ? RP_EFORBIDDEN : status == 404 ? RP_ENOTFOUND : RP_EIO;
    return rp_err_set(err, rc, "S3", "%s answered %ld %s%s%s", method, status,
                      code[0] ? code : "", message[0] ? ": " : "", message);
}

int rp_s3_list(const struct rp_s3_conf *conf, const char *bucket, const char *prefix,
               rp_s3_list_fn fn, void *ud, struct rp_err *err)
{
    char token[2048] = "";
    size_t plen = strlen(prefix) * 3 + 1;
    char *eprefix = rp_malloc(plen);
    rp_s3_encode_key(prefix, eprefix, plen, 0);
    int rc = 0;
    for (;;) {
        char etoken[sizeof(token) * 3];
        rp_s3_encode_key(token, etoken, sizeof(etoken), 0);
        size_t qsize = strlen(eprefix) + strlen(etoken) + 96;
        char *query = rp_malloc(qsize);
        /* Query parameters in sorted order, as the canonical request lists them. */
        if (token[0])
            snprintf(query, qsize, "?continuation-token=%s&list-type=2&prefix=%s", etoken,
                     eprefix);
        else
            snprintf(query, qsize, "?list-type=2&prefix=%s", eprefix);
        char *url = object_url(conf, bucket, "", query);
        free(query);
        struct sink sink = {.max = LIST_BODY_MAX};
        rc = perform(conf, "GET", url, &sink, NULL, NULL, err);
        free(url);
        if (rc) {
            free(sink.buf);
            break;
        }
        const char *body = sink.buf ? sink.buf : "", *at = body;
        char block[4096];
        int stop = 0;
        /* Each <Contents> holds one object's <Key> and <Size>. */
        const char *next;
        while (!stop && (next = strstr(at, "<Contents>"))) {
            const char *end = strstr(next, "</Contents>");
            if (!end)
                break;
            size_t n = (size_t)(end - next);
            if (n >= sizeof(block))
                n = sizeof(block) - 1;
            memcpy(block, next, n);
            block[n] = '\0';
            char key[1100];
            if (xml_text(block, "Key", key, sizeof(key))) {
                char size_s[32] = "0";
                xml_text(block, "Size", size_s, sizeof(size_s));
                xml_unescape(key);
                stop = fn(ud, key, strtoll(size_s, NULL, 10));
            }
            at = end + 11;
        }
        char truncated[16] = "false";
        xml_text(body, "IsTruncated", truncated, sizeof(truncated));
        token[0] = '\0';
        if (!stop && strcmp(truncated, "true") == 0)
            xml_text(body, "NextContinuationToken", token, sizeof(token));
        free(sink.buf);
        if (stop || !token[0])
            break;
        xml_unescape(token);
    }
    free(eprefix);
    return rc;
}

int rp_s3_get(const struct rp_s3_conf *conf, const char *bucket, const char *key,
              rp_s3_data_fn fn, void *ud, struct rp_err *err)
{
    char *url = object_url(conf, bucket, key, "");
    struct sink sink = {.fn = fn, .ud = ud, .max = ERROR_BODY_MAX};
    int rc = perform(conf, "GET", url, &sink, NULL, NULL, err);
    free(url);
    free(sink.buf);
    return rc;
}

int rp_s3_put(const struct rp_s3_conf *conf, const char *bucket, const char *key,
              const void *data, size_t len, const char *content_type, struct rp_err *err)
{
    char *url = object_url(conf, bucket, key, "");
    struct sink sink = {.max = ERROR_BODY_MAX};
    struct upload up = {.data = data, .len = len};
    int rc = perform(conf, "PUT", url, &sink, &up, content_type, err);
    free(url);
    free(sink.buf);
    return rc;
}
