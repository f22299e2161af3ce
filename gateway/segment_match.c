/* Dimensional segment rules (segment_match.h). */
#include "segment_match.h"
#include "endpoint.h"
#include "rc.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static int is_one_of(const char *v, const char *choices)
{
    size_t n = v ? strlen(v) : 0;
    for (const char *p = choices; v && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

static int check_values(const json_t *values, const char *field, size_t min, struct rp_err *err)
{
    if (!json_is_array(values) || json_array_size(values) < min || json_array_size(values) > 100)
        return rp_err_set(err, RP_EINVAL, field, "Values must be an array of %zu to 100 strings",
                          min);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (!json_is_string(v)) return rp_err_set(
        err, RP_EINVAL, field, "Values must hold strings");
    return 0;
}

static int check_set(const json_t *set, const char *field, struct rp_err *err)
{
    const char *t = json_string_value(json_object_get(set, "DimensionType"));
    if (!json_is_object(set))
        return rp_err_set(err, RP_EINVAL, field, "must be an object");
    if (t && !is_one_of(t, "INCLUSIVE|EXCLUSIVE"))
        return rp_err_set(err, RP_EINVAL, field, "DimensionType must be INCLUSIVE or EXCLUSIVE");
    return check_values(json_object_get(set, "Values"), field, 1, err);
}

static int check_attributes(const json_t *map, const char *field, struct rp_err *err)
{
    if (!json_is_object(map))
        return rp_err_set(err, RP_EINVAL, field, "must be an object");
    const char *name;
    json_t *dim;
    json_object_foreach((json_t *)map, name, dim)
    {
        const char *t = json_string_value(json_object_get(dim, "AttributeType"));
        if (!json_is_object(dim))
            return rp_err_set(err, RP_EINVAL, field, "%.40s must be an object", name);
        if (t && !is_one_of(t, "INCLUSIVE|EXCLUSIVE|CONTAINS|BEFORE|AFTER|BETWEEN|ON"))
            return rp_err_set(err, RP_EINVAL, field,
                              "%.40s: AttributeType must be INCLUSIVE, EXCLUSIVE, CONTAINS, "
                              "BEFORE, AFTER, BETWEEN or ON",
                              name);
        if (check_values(json_object_get(dim, "Values"), field,
                         t && strcmp(t, "BETWEEN") == 0 ? 2 : 1, err))
            return RP_EINVAL;
    }
    return 0;
}

int rp_segment_dimensions_validate(const json_t *dims, const char *field, struct rp_err *err)
{
    if (!json_is_object(dims))
        return rp_err_set(err, RP_EINVAL, field, "must be an object");
    char f[64];
    const json_t *v;
    if ((v = json_object_get(dims, "Demographic"))) {
        static const char *const names[] = {"AppVersion", "Channel", "DeviceType",
                                            "Make",       "Model",   "Platform"};
        if (!json_is_object(v))
            return rp_err_set(err, RP_EINVAL, field, "Demographic must be an object");
        for (size_t i = 0; i < 6; i++) {
            const json_t *set = json_object_get(v, names[i]);
            snprintf(f, sizeof(f), "%s.Demographic.%s", field, names[i]);
            if (set && check_set(set, f, err))
                return RP_EINVAL;
        }
    }
    if ((v = json_object_get(dims, "Location"))) {
        const json_t *c = json_object_get(v, "Country"), *gps = json_object_get(v, "GPSPoint");
        snprintf(f, sizeof(f), "%s.Location.Country", field);
        if (c && check_set(c, f, err))
            return RP_EINVAL;
        if (gps) {
            const json_t *co = json_object_get(gps, "Coordinates");
            if (!json_is_number(json_object_get(co, "Latitude")) ||
                !json_is_number(json_object_get(co, "Longitude")))
                return rp_err_set(err, RP_EINVAL, field,
                                  "Location.GPSPoint.Coordinates needs Latitude and Longitude");
        }
    }
    snprintf(f, sizeof(f), "%s.Attributes", field);
    if ((v = json_object_get(dims, "Attributes")) && check_attributes(v, f, err))
        return RP_EINVAL;
    snprintf(f, sizeof(f), "%s.UserAttributes", field);
    if ((v = json_object_get(dims, "UserAttributes")) && check_attributes(v, f, err))
        return RP_EINVAL;
    if ((v = json_object_get(dims, "Metrics"))) {
        const char *name;
        json_t *m;
        if (!json_is_object(v))
            return rp_err_set(err, RP_EINVAL, field, "Metrics must be an object");
        json_object_foreach((json_t *)v, name, m)
        {
            const char *op = json_string_value(json_object_get(m, "ComparisonOperator"));
            if (!is_one_of(op, "GREATER_THAN|LESS_THAN|GREATER_THAN_OR_EQUAL|"
                               "LESS_THAN_OR_EQUAL|EQUAL") ||
                !json_is_number(json_object_get(m, "Value")))
                return rp_err_set(err, RP_EINVAL, field,
                                  "Metrics.%.40s needs a ComparisonOperator (GREATER_THAN, "
                                  "LESS_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN_OR_EQUAL, EQUAL) "
                                  "and a numeric Value",
                                  name);
        }
    }
    return 0;
}

int rp_segment_groups_validate(const json_t *groups, struct rp_err *err)
{
    if (!json_is_object(groups))
        return rp_err_set(err, RP_EINVAL, "SegmentGroups", "must be an object");
    const char *inc = json_string_value(json_object_get(groups, "Include"));
    if (inc && !is_one_of(inc, "ALL|ANY|NONE"))
        return rp_err_set(err, RP_EINVAL, "SegmentGroups.Include", "must be ALL, ANY or NONE");
    const json_t *list = json_object_get(groups, "Groups");
    if (list && (!json_is_array(list) || json_array_size(list) > 5))
        return rp_err_set(err, RP_EINVAL, "SegmentGroups.Groups", "must be an array of up to 5");
    size_t i;
    json_t *g;
    json_array_foreach(list, i, g)
    {
        char f[64];
        snprintf(f, sizeof(f), "SegmentGroups.Groups[%zu]", i);
        const char *t = json_string_value(json_object_get(g, "Type"));
        const char *st = json_string_value(json_object_get(g, "SourceType"));
        if (!json_is_object(g) || (t && !is_one_of(t, "ALL|ANY|NONE")) ||
            (st && !is_one_of(st, "ALL|ANY")))
            return rp_err_set(err, RP_EINVAL, f,
                              "must be an object with Type ALL|ANY|NONE, SourceType ALL|ANY");
        const json_t *dims = json_object_get(g, "Dimensions");
        size_t j;
        json_t *d;
        if (dims && !json_is_array(dims))
            return rp_err_set(err, RP_EINVAL, f, "Dimensions must be an array");
        json_array_foreach(dims, j, d) if (rp_segment_dimensions_validate(d, f, err)) return
            RP_EINVAL;
        const json_t *src = json_object_get(g, "SourceSegments");
        if (src && !json_is_array(src))
            return rp_err_set(err, RP_EINVAL, f, "SourceSegments must be an array");
        json_array_foreach(src, j, d) if (!json_is_string(json_object_get(d, "Id"))) return
            rp_err_set(err, RP_EINVAL, f, "SourceSegments[%zu].Id is required", j);
    }
    return 0;
}

/* ---- Matching ------------------------------------------------------------------------------ */

static bool in_values(const json_t *values, const char *v, bool fold)
{
    size_t i;
    json_t *x;
    json_array_foreach(values, i, x)
    {
        const char *s = json_string_value(x);
        if (v && s && (fold ? strcasecmp(s, v) == 0 : strcmp(s, v) == 0))
            return true;
    }
    return false;
}

static bool set_match(const json_t *set, const char *value)
{
    if (!set)
        return true;
    const char *t = json_string_value(json_object_get(set, "DimensionType"));
    bool in = in_values(json_object_get(set, "Values"), value, true);
    return t && strcmp(t, "EXCLUSIVE") == 0 ? !in : in;
}

static bool date_of(const char *s, int64_t *ms)
{
    return s && rp_iso8601_parse_ms(s, ms);
}

/* One endpoint value against an AttributeDimension. */
static bool attribute_value_match(const char *type, const json_t *values, const char *v)
{
    int64_t a, b, x;
    if (strcmp(type, "CONTAINS") == 0) {
        size_t i;
        json_t *s;
        json_array_foreach(values, i, s) if (strstr(v, json_string_value(s))) return true;
        return false;
    }
    if (!date_of(v, &x))
        return false;
    if (strcmp(type, "BETWEEN") == 0)
        return date_of(json_string_value(json_array_get(values, 0)), &a) &&
               date_of(json_string_value(json_array_get(values, 1)), &b) && x >= a && x <= b;
    if (!date_of(json_string_value(json_array_get(values, 0)), &a))
        return false;
    if (strcmp(type, "BEFORE") == 0)
        return x < a;
    if (strcmp(type, "AFTER") == 0)
        return x > a;
    return x / 86400000 == a / 86400000; /* ON: the same UTC day */
}

static bool attributes_match(const json_t *dims, const json_t *map)
{
    const char *name;
    json_t *dim;
    json_object_foreach((json_t *)dims, name, dim)
    {
        const char *type = json_string_value(json_object_get(dim, "AttributeType"));
        const json_t *values = json_object_get(dim, "Values");
        const json_t *have = json_object_get(map, name);
        if (!type)
            type = "INCLUSIVE";
        bool exclusive = strcmp(type, "EXCLUSIVE") == 0;
        bool any = false;
        size_t i;
        json_t *v;
        json_array_foreach(have, i, v)
        {
            const char *s = json_string_value(v);
            if (!s)
                continue;
            if (strcmp(type, "INCLUSIVE") == 0 || exclusive)
                any |= in_values(values, s, false);
            else
                any |= attribute_value_match(type, values, s);
        }
        if (exclusive ? any : !any)
            return false;
    }
    return true;
}

static bool metrics_match(const json_t *dims, const json_t *metrics)
{
    const char *name;
    json_t *dim;
    json_object_foreach((json_t *)dims, name, dim)
    {
        const json_t *have = json_object_get(metrics, name);
        if (!json_is_number(have))
            return false;
        double v = json_number_value(have), ref = json_number_value(json_object_get(dim, "Value"));
        const char *op = json_string_value(json_object_get(dim, "ComparisonOperator"));
        bool ok = !op                                           ? false
                  : strcmp(op, "GREATER_THAN") == 0             ? v > ref
                  : strcmp(op, "LESS_THAN") == 0                ? v < ref
                  : strcmp(op, "GREATER_THAN_OR_EQUAL") == 0    ? v >= ref
                  : strcmp(op, "LESS_THAN_OR_EQUAL") == 0       ? v <= ref
                                                                : v == ref;
        if (!ok)
            return false;
    }
    return true;
}

static bool gps_match(const json_t *gps, const json_t *location)
{
    const json_t *co = json_object_get(gps, "Coordinates");
    const json_t *lat = json_object_get(location, "Latitude");
    const json_t *lon = json_object_get(location, "Longitude");
    if (!json_is_number(lat) || !json_is_number(lon))
        return false;
    double range = json_is_number(json_object_get(gps, "RangeInKilometers"))
                       ? json_number_value(json_object_get(gps, "RangeInKilometers"))
                       : 100.0;
    const double rad = M_PI / 180.0;
    double la1 = json_number_value(json_object_get(co, "Latitude")) * rad;
    double la2 = json_number_value(lat) * rad;
    double dlat = la2 - la1;
    double dlon = (json_number_value(lon) - json_number_value(json_object_get(co, "Longitude"))) *
                  rad;
    double h = sin(dlat / 2) * sin(dlat / 2) + cos(la1) * cos(la2) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(h)) <= range;
}

bool rp_segment_dimensions_match(const json_t *dims, const json_t *endpoint)
{
    if (!json_is_object(dims))
        return true;
    const json_t *demo = json_object_get(dims, "Demographic");
    const json_t *ed = json_object_get(endpoint, "Demographic");
    if (demo) {
        static const char *const names[] = {"AppVersion", "Make", "Model", "Platform"};
        for (size_t i = 0; i < 4; i++)
            if (!set_match(json_object_get(demo, names[i]),
                           json_string_value(json_object_get(ed, names[i]))))
                return false;
        if (!set_match(json_object_get(demo, "Channel"),
                       json_string_value(json_object_get(endpoint, "ChannelType"))))
            return false;
        if (!set_match(json_object_get(demo, "DeviceType"), NULL))
            return false;
    }
    const json_t *loc = json_object_get(dims, "Location");
    if (loc) {
        const json_t *el = json_object_get(endpoint, "Location");
        if (!set_match(json_object_get(loc, "Country"),
                       json_string_value(json_object_get(el, "Country"))))
            return false;
        const json_t *gps = json_object_get(loc, "GPSPoint");
        if (gps && !gps_match(gps, el))
            return false;
    }
    const json_t *v;
    if ((v = json_object_get(dims, "Attributes")) &&
        !attributes_match(v, json_object_get(endpoint, "Attributes")))
        return false;
    if ((v = json_object_get(dims, "UserAttributes")) &&
        !attributes_match(v, json_object_get(json_object_get(endpoint, "User"), "UserAttributes")))
        return false;
    if ((v = json_object_get(dims, "Metrics")) &&
        !metrics_match(v, json_object_get(endpoint, "Metrics")))
        return false;
    return true;
}

/* One group of SegmentGroups: 1, 0 or < 0. */
static int group_match(const json_t *g, const json_t *endpoint, rp_segment_member_fn fn, void *ud)
{
    const json_t *src = json_object_get(g, "SourceSegments");
    const char *st = json_string_value(json_object_get(g, "SourceType"));
    bool all_src = st && strcmp(st, "ALL") == 0;
    if (json_array_size(src)) {
        int hits = 0;
        size_t i;
        json_t *s;
        json_array_foreach(src, i, s)
        {
            int in = fn(ud, json_string_value(json_object_get(s, "Id")),
                        (int)json_integer_value(json_object_get(s, "Version")), endpoint);
            if (in < 0)
                return in;
            hits += in;
        }
        if (all_src ? hits < (int)json_array_size(src) : hits == 0)
            return 0;
    }
    const json_t *dims = json_object_get(g, "Dimensions");
    if (!json_array_size(dims))
        return 1;
    const char *t = json_string_value(json_object_get(g, "Type"));
    size_t i, matched = 0;
    json_t *d;
    json_array_foreach(dims, i, d) matched += rp_segment_dimensions_match(d, endpoint);
    if (t && strcmp(t, "NONE") == 0)
        return matched == 0;
    if (t && strcmp(t, "ANY") == 0)
        return matched > 0;
    return matched == json_array_size(dims);
}

int rp_segment_doc_match(const json_t *segment, const json_t *endpoint, rp_segment_member_fn fn,
                         void *ud)
{
    if (!rp_segment_dimensions_match(json_object_get(segment, "Dimensions"), endpoint))
        return 0;
    const json_t *groups = json_object_get(segment, "SegmentGroups");
    const json_t *list = json_object_get(groups, "Groups");
    if (!json_array_size(list))
        return 1;
    const char *inc = json_string_value(json_object_get(groups, "Include"));
    size_t i, hits = 0;
    json_t *g;
    json_array_foreach(list, i, g)
    {
        int in = group_match(g, endpoint, fn, ud);
        if (in < 0)
            return in;
        hits += (size_t)in;
    }
    if (inc && strcmp(inc, "NONE") == 0)
        return hits == 0;
    if (inc && strcmp(inc, "ANY") == 0)
        return hits > 0;
    return hits == json_array_size(list);
}
