/* Renders per second of a typical email template on one core: a Subject, a 2 KB HtmlPart and a
 * TextPart with 10 variables between them, one #if and one #each (3 items), rendered for a
 * recipient whose values come from the endpoint, the Substitutions and the template's defaults,
 * as a send renders them. One render = all three parts for one recipient. The template is
 * compiled once, as the cache does; the loop allocates nothing.
 *
 *   build/bench/bench_templates [seconds]   (default 3)
 * Reports renders per CPU second of the rendering thread (one core's worth, whatever else the
 * machine runs) and per wall second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "templates/template.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char subject[] = "{{User.UserAttributes.FirstName}}, your order {{orderId}} has shipped";
static const char text[] =
    "Hi {{User.UserAttributes.FirstName}},\n\nOrder {{orderId}} is on its way to "
    "{{Location.City}}.\n{{#each Attributes.Items}}- {{this}}\n{{/each}}Track it: {{trackingUrl}}\n";

/* 2 KB of HTML around the variables. */
static char html[4096];

static void build_html(void)
{
    static const char filler[] =
        "<tr><td style=\"padding:8px;font-family:Arial,sans-serif;color:#333\">Thank you for "
        "shopping with us. Questions? Reply to this email.</td></tr>\n";
    strcpy(html, "<html><body><table width=\"600\">\n"
                 "<tr><td><h1>Hello {{User.UserAttributes.FirstName}} {{User.UserAttributes.LastName}}"
                 "</h1></td></tr>\n"
                 "<tr><td>Order <b>{{orderId}}</b> ships to {{Location.City}}, {{Location.Country}}."
                 "</td></tr>\n"
                 "{{#if Attributes.Vip}}<tr><td>As a VIP, shipping was free.</td></tr>{{/if}}\n"
                 "<tr><td><ul>{{#each Attributes.Items}}<li>{{this}}</li>{{/each}}</ul></td></tr>\n"
                 "<tr><td>Total: {{total}} &middot; Points: {{points}}</td></tr>\n"
                 "<tr><td><a href=\"{{{trackingUrl}}}\">Track your parcel</a></td></tr>\n");
    while (strlen(html) + sizeof(filler) + 64 < 2048 + 200)
        strcat(html, filler);
    strcat(html, "<tr><td>{{brand}}</td></tr></table></body></html>\n");
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    build_html();
    struct rp_tmpl_error err;
    struct rp_tmpl *parts[3] = {rp_tmpl_compile(subject, strlen(subject), &err),
                                rp_tmpl_compile(html, strlen(html), &err),
                                rp_tmpl_compile(text, strlen(text), &err)};
    for (int i = 0; i < 3; i++)
        if (!parts[i]) {
            fprintf(stderr, "compile: %d:%d %s\n", err.line, err.column, err.msg);
            return 1;
        }
    json_t *endpoint = json_loads(
        "{\"Id\": \"ep-1\", \"Address\": \"ann@example.com\", \"ChannelType\": \"EMAIL\","
        " \"Attributes\": {\"Vip\": [\"yes\"], \"Items\": [\"Green tea\", \"Teapot\", \"Cups\"]},"
        " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"FirstName\": [\"Ann\"],"
        "   \"LastName\": [\"Smith\"]}},"
        " \"Location\": {\"City\": \"Seattle\", \"Country\": \"US\"}}", 0, NULL);
    json_t *subs = json_loads("{\"orderId\": [\"A-1042\"], \"total\": [\"$42.00\"],"
                              " \"trackingUrl\": [\"https://t.example.com/A-1042?x=1&y=2\"],"
                              " \"points\": [\"120\"]}", 0, NULL);
    json_t *defaults = json_loads("{\"brand\": \"Example Tea Co.\"}", 0, NULL);
    struct rp_tmpl_vars vars = {.substitutions = subs, .endpoint = endpoint, .defaults = defaults,
                                .now_ms = 0};
    rp_tmpl_vars_prepare(&vars); /* once per recipient, as the send hook does */
    static char out[3][8192];
    size_t len[3] = {0}, total_bytes = 0;
    long renders = 0;
    double start = clock_s(CLOCK_MONOTONIC), cpu_start = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double elapsed = 0;
    while (elapsed < seconds) {
        for (int k = 0; k < 1000; k++) {
            for (int i = 0; i < 3; i++)
                if (rp_tmpl_render(parts[i], &vars, out[i], sizeof(out[i]), &len[i], &err) != 0) {
                    fprintf(stderr, "render: %s\n", err.msg);
                    return 1;
                }
            renders++;
        }
        elapsed = clock_s(CLOCK_MONOTONIC) - start;
    }
    double cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    total_bytes = len[0] + len[1] + len[2];
    printf("template: subject %zu B, html %zu B, text %zu B source; output %zu B per render\n",
           strlen(subject), strlen(html), strlen(text), total_bytes);
    /* CPU time is what one core delivers; wall time also counts what other processes took. */
    printf("renders: %ld in %.2f s wall, %.2f s CPU\n", renders, elapsed, cpu);
    printf("per CPU second: %.0f renders/s (%.2f us each); per wall second: %.0f renders/s\n",
           (double)renders / cpu, cpu / (double)renders * 1e6, (double)renders / elapsed);
    for (int i = 0; i < 3; i++)
        rp_tmpl_free(parts[i]);
    json_decref(endpoint);
    json_decref(subs);
    json_decref(defaults);
    return 0;
}
