#include "email_address.h"

#include <stdbool.h>
#include <string.h>

#include "../../gateway/rc.h"

#define LOCAL_MAX  64
#define DOMAIN_MAX 255
#define ADDR_MAX   254
#define LABEL_MAX  63

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext, plus UTF-8 octets (RFC 6531). */
static bool is_atext(unsigned char c)
{
    return is_alnum(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int local_part_validate(const char *s, size_t len, const char *field, struct rp_err *err)
{
    if (len == 0)
        return rp_err_set(err, RP_EINVAL, field, "has an empty local part before '@'");
    if (len > LOCAL_MAX)
        return rp_err_set(err, RP_EINVAL, field, "has a local part longer than %d characters",
                          LOCAL_MAX);
    if (s[0] == '.' || s[len - 1] == '.')
        return rp_err_set(err, RP_EINVAL, field, "has a local part starting or ending with '.'");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return rp_err_set(err, RP_EINVAL, field, "has '..' in its local part");
            continue;
        }
        if (!is_atext(c))
            return rp_err_set(err, RP_EINVAL, field,
                              "has a character not allowed in an email local part");
    }
    return 0;
}

static int domain_validate(const char *s, size_t len, const char *field, struct rp_err *err)
{
    if (len == 0)
        return rp_err_set(err, RP_EINVAL, field, "has an empty domain after '@'");
    if (len > DOMAIN_MAX)
        return rp_err_set(err, RP_EINVAL, field, "has a domain longer than %d characters",
                          DOMAIN_MAX);
    size_t start = 0;
    while (start <= len) {
        const char *dot = memchr(s + start, '.', len - start);
        size_t end = dot ? (size_t)(dot - s) : len;
        size_t label = end - start;
        if (label == 0)
            return rp_err_set(err, RP_EINVAL, field, "has an empty label in its domain");
        if (label > LABEL_MAX)
            return rp_err_set(err, RP_EINVAL, field, "has a domain label longer than %d characters",
                              LABEL_MAX);
        if (s[start] == '-' || s[end - 1] == '-')
            return rp_err_set(err, RP_EINVAL, field,
                              "has a domain label starting or ending with '-'");
        for (size_t i = start; i < end; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_alnum(c) && c != '-' && c < 0x80)
                return rp_err_set(err, RP_EINVAL, field,
                                  "has a character not allowed in a domain name");
        }
        start = end + 1;
    }
    return 0;
}

int rp_email_address_validate(const char *addr, const char *field, struct rp_err *err)
{
    if (!addr || !*addr)
        return rp_err_set(err, RP_EINVAL, field, "is required");
    /* Checked first and said plainly: a line break in an address is a header injection. */
    if (strpbrk(addr, "\r\n"))
        return rp_err_set(err, RP_EINVAL, field, "must not contain line breaks");
    size_t len = strlen(addr);
    if (len > ADDR_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters", ADDR_MAX);
    const char *at = strchr(addr, '@');
    if (!at || strchr(at + 1, '@'))
        return rp_err_set(err, RP_EINVAL, field, "must be an email address with one '@'");
    int rc = local_part_validate(addr, (size_t)(at - addr), field, err);
    if (rc < 0)
        return rc;
    return domain_validate(at + 1, len - (size_t)(at - addr) - 1, field, err);
}
