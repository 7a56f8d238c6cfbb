/*
 * proto/xml.h: the KMIP XML encoding, the text form of TTLV that the OASIS profile test cases use.
 *
 * An element per item, named after the tag ("UniqueIdentifier", or <TTLV tag="0x540001"> for a tag without a
 * name), with type= and value= attributes for a leaf and child elements for a Structure. A value is read in
 * the syntax of its type: decimal or 0x hex numbers, mask bit names separated by spaces, enumeration names
 * (named after the sibling Attribute Name under a KMIP 1.x Attribute Value), hex Byte Strings and Big
 * Integers, ISO 8601 dates with a time zone. A document is one item, or <KMIP> (KMIP 1.3+ profile test
 * cases) or <KmipTestCase> (the KMIP 1.0-1.2 profile documents) holding several: the test cases'
 * alternating Request and Response Messages.
 *
 * A value that is a placeholder ('$', capitals, digits and '_', optionally +N or -N: "$UNIQUE_IDENTIFIER_0",
 * "$NOW-3600") stands for what a server will choose. Its item keeps its type with a neutral value (zero,
 * empty, or the placeholder itself for a Text String) and the placeholder is recorded in the document's
 * side table: ttlv_xml_placeholder() finds it, ttlv_xml_print() writes it back.
 *
 * Symbol prefix: ttlv_xml_.
 */
#ifndef KMIPD_PROTO_XML_H
#define KMIPD_PROTO_XML_H

#include <stddef.h>
#include <stdio.h>

#include "proto/ttlv.h"

#define TTLV_XML_MAX_SIZE (16 * 1024 * 1024)	/* bytes of one document */
#define TTLV_XML_MAX_DEPTH 32			/* element nesting, the <KMIP> wrapper included */

struct ttlv_xml_placeholder {
	const struct ttlv *item;	/* the leaf that stands for it */
	const char *name;		/* "$UNIQUE_IDENTIFIER_0", as written; in the document's arena */
};

struct ttlv_xml_doc {
	struct ttlv_arena *arena;	/* owns every item and value */
	struct ttlv **items;		/* the children of <KMIP> in order, or the one root element */
	size_t nitems;
	struct ttlv_xml_placeholder *placeholders;	/* sorted by item address */
	size_t nplaceholders;
};

/*
 * Parses a document of len bytes (UTF-8, at most TTLV_XML_MAX_SIZE). Returns 0 and *out (free it with
 * ttlv_xml_doc_free), or -1 and a malloc'd *cause that names the line ("line 12: unknown element <Foo>").
 */
int ttlv_xml_parse(const char *buf, size_t len, struct ttlv_xml_doc **out, char **cause) TTLV_WUR;
/* Reads and parses a file; the cause starts with the path. */
int ttlv_xml_parse_file(const char *path, struct ttlv_xml_doc **out, char **cause) TTLV_WUR;
/* Frees a document and every item in it (wiped); NULL is accepted. */
void ttlv_xml_doc_free(struct ttlv_xml_doc *doc);
/* The placeholder that item stands for ("$NOW"), or NULL when it has a real value or doc is NULL. */
const char *ttlv_xml_placeholder(const struct ttlv_xml_doc *doc, const struct ttlv *item);
/*
 * Writes item and everything under it as KMIP XML, indented by two spaces per level starting at indent.
 * Placeholders of doc (which may be NULL) are written back in place of their neutral values. Key material
 * is written as it is: this is a test and tooling format. Returns 0, or -1 when writing failed.
 */
int ttlv_xml_print(FILE *out, const struct ttlv *item, const struct ttlv_xml_doc *doc, unsigned indent)
    TTLV_WUR;

#endif
