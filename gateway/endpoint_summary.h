/* The few members of a stored endpoint that routing a message needs, read without building the
 * whole document.
 *
 * A campaign run reads every endpoint of its segment. Parsing each stored EndpointResponse into
 * a jansson tree (some 18 nodes, 7 of them objects with their own hash tables) was the largest
 * single cost of a campaign delivery. When the run needs nothing else of the endpoint (no
 * message variables, no template, no segment dimensions to test), it reads the stored text with
 * a streaming parser instead and keeps only:
 *
 *   Id, ChannelType, Address, EndpointStatus, OptOut           (strings)
 *   Demographic.Platform, Demographic.Timezone                 (strings)
 *
 * in a small object of the same shape, so the code that reads an endpoint works on either. */
#ifndef RP_ENDPOINT_SUMMARY_H
#define RP_ENDPOINT_SUMMARY_H

#include <jansson.h>
#include <stddef.h>

/* A new object holding the members above that text (a JSON object) has as strings, or NULL
 * when text is not a well-formed JSON object or a member kept holds a NUL character or bytes
 * that are not UTF-8 (which the full parser refuses too). Other strings are not checked: the
 * stored texts come from our own writer. */
json_t *rp_endpoint_summary(const char *text, size_t len);

#endif
