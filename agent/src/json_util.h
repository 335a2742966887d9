/* The agent's one JSON path, over json-c: bounded parsing (messages from the broker, tool output) and
 * printing of what the agent publishes. */
#ifndef FB_JSON_UTIL_H
#define FB_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define FB_JSON_DEPTH 8

/* Parses exactly one JSON object filling all of buf[0..len) (trailing whitespace allowed).
 * Rejects NUL bytes, invalid UTF-8, nesting deeper than FB_JSON_DEPTH, non-objects and a member name
 * that appears twice in one object (at any depth). NULL on error. */
struct json_object *fb_json_parse_object(const char *buf, size_t len);

/* The same with another depth limit and json-c tokener flags: tool output (ubus) is parsed with
 * flags 0, because it may carry bytes that are not UTF-8 (SSIDs of scan results, log lines). */
struct json_object *fb_json_parse_object_ex(const char *buf, size_t len, int depth, int flags);

/* Prints obj compactly (no spaces, '/' not escaped) into out, NUL-terminated. Returns the length,
 * or 0 when it does not fit. */
size_t fb_json_print(struct json_object *obj, char *out, size_t cap);

/* Adds val under key, taking ownership (val is freed on failure; NULL val is a failure). 0 or -1. */
int fb_json_add(struct json_object *obj, const char *key, struct json_object *val);

/* Field getters. Return 1 if the field is present and valid, 0 if absent (or null: Topics.md treats
 * null as absent in optional fields, and a required field that is absent is an error), -1 if invalid. */
int fb_json_string(struct json_object *obj, const char *name, size_t min, size_t max, const char **out, size_t *len);
int fb_json_int(struct json_object *obj, const char *name, int64_t min, int64_t max, int64_t *out);
int fb_json_bool(struct json_object *obj, const char *name, int *out);

/* 1..64 of [A-Za-z0-9._-] (Topics.md "device id"). */
int fb_valid_id(const char *s, size_t len);

#endif
