#!/usr/bin/python3
"""Writes a seed corpus for the TTLV fuzz targets (fuzz_ttlv, fuzz_request) into DIR.

Seeds:
- each KMIP 1.4 section 9.1.2 example wrapped in a Request Message structure;
- every RequestMessage of the OASIS KMIP Profiles 1.4 and 2.1 test cases (XML encoding), converted to TTLV:
  one seed per message, and one seed per test case holding all its requests in order (fuzz_request answers
  them one after the other against one store, so a Get follows its Create);
- hand-made requests for every operation kmipd implements, in 1.x and 2.x forms, and a few whole messages.

The first byte of every seed is the targets' selector (fuzz_ttlv: how the rest is split into feeds;
fuzz_request: which identities send the messages). The XML names are resolved with the JSON tables in
VECTORS/tables (KMIP 1.4 and the 2.0 additions) plus the few 2.1 names below, spelled the way the KMIP XML
encoding normalizes them. Placeholders that stand for server-chosen values are filled in: $UNIQUE_IDENTIFIER_n
with "1", "2", ... in the order the test case's responses first show them (kmipd's identifiers are random;
fuzz_request replaces "n" in an identifier field with the n-th identifier its responses showed), $NOW with
the time of the run, the other data placeholders with fixed bytes.

Usage: test/fuzz/seed-corpus.py DIR [VECTORS]
"""
import calendar
import datetime
import glob
import json
import os
import re
import struct
import sys
import time
import xml.etree.ElementTree as ET

TYPES = {
    "Structure": 0x01, "Integer": 0x02, "LongInteger": 0x03, "BigInteger": 0x04, "Enumeration": 0x05,
    "Boolean": 0x06, "TextString": 0x07, "ByteString": 0x08, "DateTime": 0x09, "Interval": 0x0A,
    "DateTimeExtended": 0x0B,
}

# 2.1 tags the JSON tables lack (KMIP 2.1 section 9.1.3.1).
EXTRA_TAGS = {
    "PKCS#11 Interface": 0x420159, "PKCS#11 Function": 0x42015A, "PKCS#11 Input Parameters": 0x42015B,
    "PKCS#11 Output Parameters": 0x42015C, "PKCS#11 Return Code": 0x42015D, "Interop Function": 0x420160,
    "Interop Identifier": 0x420161, "Adjustment Value": 0x420162,
}

# Enumerations the JSON tables list without values: PKCS#11 functions by their position in CK_FUNCTION_LIST.
EXTRA_ENUMS = {
    "PKCS#11 Function": {"C_Initialize": 1, "C_Finalize": 2, "C_GetInfo": 3},
}

SELECT_ONE = 0x04       # fuzz_ttlv: feeds of 5 bytes; fuzz_request: one client sends everything
SELECT_SEQUENCE = 0xFC  # fuzz_ttlv: feeds of 253 bytes; fuzz_request: one client


def xml_name(spec):
    """The KMIP XML encoding's spelling of a spec name: "PKCS#1" -> PKCS_1, "Pre-Active" -> PreActive."""
    s = spec.replace("(", " ").replace(")", " ")
    out = []
    for i, ch in enumerate(s):
        if ch.isalnum() or ch in "_ ":
            out.append(ch)
        elif i + 2 < len(s) and s[i + 1].isalpha() and s[i + 2].islower():
            out.append(" ")
        else:
            out.append("_")
    words = "".join(out).split()
    if words:
        m = re.match(r"^(\d+)(.+)$", words[0])
        if m:
            words[0] = m.group(2) + m.group(1)
    return "".join(w[0].upper() + w[1:] for w in words)


def number(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def value_names(entry):
    """An enumeration's or mask's values from a JSON table, under their XML and their spaceless spec names."""
    values = {xml_name(k): number(v) for k, v in entry.get("values", {}).items()}
    values.update({k.replace(" ", ""): number(v) for k, v in entry.get("values", {}).items()})
    return values


class Tables:
    """Tag, enumeration and mask names from the JSON tables, looked up by XML or spec spelling."""

    def __init__(self, vectors):
        self.tags = {}          # XML name -> tag
        self.tag_spec = {}      # tag -> spec name
        self.enums = {}         # spec tag name -> {XML value name -> value}
        self.masks = {}         # spec tag name -> {XML bit name -> value}
        self.all_enum = {}      # XML value name -> value, any enumeration (fallback)
        names = sorted(glob.glob(os.path.join(vectors, "tables", "*.json")))
        for path in names:
            with open(path) as f:
                d = json.load(f)
            for spec, v in d.get("tags", {}).items():
                self.add_tag(spec, number(v))
            for e in d.get("enums", []):
                values = value_names(e)
                for t in e.get("tags", [e["name"]]):
                    self.enums.setdefault(t, {}).update(values)
                for k, v in values.items():
                    self.all_enum.setdefault(k, v)
            for m in d.get("masks", []):
                bits = value_names(m)
                for t in m.get("tags", [m["name"]]):
                    self.masks.setdefault(t, {}).update(bits)
        for spec, v in EXTRA_TAGS.items():
            self.add_tag(spec, v)
        for spec, values in EXTRA_ENUMS.items():
            self.enums.setdefault(spec, {}).update(values)

    def add_tag(self, spec, value):
        self.tags[xml_name(spec)] = value
        self.tags[re.sub(r"[^A-Za-z0-9]", "", spec)] = value
        self.tag_spec.setdefault(value, spec)

    def tag(self, name):
        if name.startswith("0x"):
            return int(name, 16)
        if name not in self.tags:
            raise KeyError("unknown tag " + name)
        return self.tags[name]

    def spec_of_xml(self, name):
        """The spec name of an element or attribute name ("Cryptographic Algorithm" from either)."""
        t = self.tags.get(name) or self.tags.get(re.sub(r"[^A-Za-z0-9]", "", name))
        return self.tag_spec.get(t, name)

    def enum(self, owner_spec, value):
        if re.match(r"^0x[0-9A-Fa-f]+$", value):
            return int(value, 16)
        table = self.enums.get(owner_spec, {})
        if value in table:
            return table[value]
        if value in self.tags:        # 2.x Attribute Reference and Tag carry tag values
            return self.tags[value]
        if value in self.all_enum:
            return self.all_enum[value]
        raise KeyError("unknown enumeration %s for %s" % (value, owner_spec))

    def mask(self, owner_spec, value):
        total = 0
        for word in value.replace("|", " ").split():
            if re.match(r"^(0x[0-9A-Fa-f]+|-?\d+)$", word):
                total |= int(word, 0)
                continue
            table = self.masks.get(owner_spec)
            found = table.get(word) if table else None
            if found is None:
                for t in self.masks.values():
                    if word in t:
                        found = t[word]
                        break
            if found is None:
                raise KeyError("unknown mask bit %s for %s" % (word, owner_spec))
            total |= found
        return total


def item(tag, typ, value):
    pad = (8 - len(value) % 8) % 8
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(value)) + value + b"\0" * pad


def structure(tag, *children):
    return item(tag, 0x01, b"".join(children))


def integer(tag, v):
    return item(tag, 0x02, struct.pack(">i", v))


def long_integer(tag, v):
    return item(tag, 0x03, struct.pack(">q", v))


def enum(tag, v):
    return item(tag, 0x05, struct.pack(">I", v))


def boolean(tag, v):
    return item(tag, 0x06, struct.pack(">Q", 1 if v else 0))


def text(tag, s):
    return item(tag, 0x07, s.encode())


def byte_string(tag, b):
    return item(tag, 0x08, b)


def date_time(tag, seconds):
    return item(tag, 0x09, struct.pack(">q", seconds))


def interval(tag, seconds):
    return item(tag, 0x0A, struct.pack(">I", seconds))


class Converter:
    """Turns the RequestMessages of one XML test case into TTLV, filling in the placeholders."""

    def __init__(self, tables, now):
        self.t = tables
        self.now = now
        self.uids = {}

    def bind_uids(self, root):
        """Numbers $UNIQUE_IDENTIFIER_n in the order responses first show them, as fuzz_request does."""
        for msg in root:
            if msg.tag != "ResponseMessage":
                continue
            for e in msg.iter():
                v = e.get("value", "")
                for ph in re.findall(r"\$(?:SHORT_)?UNIQUE_IDENTIFIER_\d+", v):
                    self.uids.setdefault(ph, str(len(self.uids) + 1))

    def subst_text(self, v):
        return re.sub(r"\$(?:SHORT_)?UNIQUE_IDENTIFIER_\d+", lambda m: self.uids.get(m.group(0), "1"), v)

    def time_value(self, v):
        m = re.match(r"^\$NOW(?:([+-])(\d+))?$", v)
        if m:
            delta = int(m.group(2) or 0)
            return self.now + (delta if m.group(1) == "+" else -delta)
        if re.match(r"^-?\d+$", v):
            return int(v)
        v = v.replace("Z", "+00:00")
        dt = datetime.datetime.fromisoformat(v)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        return calendar.timegm(dt.utctimetuple())

    @staticmethod
    def hex_bytes(v):
        if v.startswith("$"):
            return bytes(range(1, 17))    # server-generated data: any 16 bytes
        return bytes.fromhex(v)

    def leaf(self, tag, typ, v, owner_spec):
        if typ == "Integer":
            if re.match(r"^-?\d+$", v) or re.match(r"^0x[0-9A-Fa-f]+$", v):
                return integer(tag, int(v, 0))
            return integer(tag, self.t.mask(owner_spec, v))
        if typ == "LongInteger":
            return long_integer(tag, int(v, 0))
        if typ == "Interval":
            return interval(tag, int(v, 0))
        if typ == "Enumeration":
            return enum(tag, self.t.enum(owner_spec, v))
        if typ == "Boolean":
            return boolean(tag, v.lower() in ("true", "1"))
        if typ == "TextString":
            return text(tag, self.subst_text(v))
        if typ == "ByteString":
            return byte_string(tag, self.hex_bytes(v))
        if typ == "BigInteger":
            b = self.hex_bytes(v)
            pad = (8 - len(b) % 8) % 8
            fill = b"\xff" if b and b[0] & 0x80 else b"\0"
            return item(tag, 0x04, fill * pad + b)
        if typ == "DateTime":
            return date_time(tag, self.time_value(v))
        if typ == "DateTimeExtended":
            return item(tag, 0x0B, struct.pack(">q", self.time_value(v) * 1000000))
        raise KeyError("unknown type " + typ)

    def element(self, e, attr_name=None):
        tag = self.t.tag(e.get("tag", e.tag)) if e.tag == "TTLV" else self.t.tag(e.tag)
        typ = e.get("type", "Structure")
        if typ == "Structure":
            name = None
            kids = list(e)
            for k in kids:
                if k.tag == "AttributeName":
                    name = self.t.spec_of_xml(k.get("value", ""))
            return structure(tag, *(self.element(k, name if k.tag == "AttributeValue" else None) for k in kids))
        owner = attr_name if attr_name is not None else self.t.tag_spec.get(tag, e.tag)
        return self.leaf(tag, typ, e.get("value", ""), owner)

    def requests(self, path):
        root = ET.parse(path).getroot()
        self.uids = {}
        self.bind_uids(root)
        return [self.element(m) for m in root if m.tag == "RequestMessage"]


# Tags used by the hand-made requests (KMIP 1.4 and 2.x).
T = dict(
    request=0x420078, header=0x420077, version=0x420069, major=0x42006A, minor=0x42006B, count=0x42000D,
    batch=0x42000F, op=0x42005C, payload=0x420079, uid=0x420094, object_type=0x420057, template=0x420091,
    attribute=0x420008, attr_name=0x42000A, attr_value=0x42000B, attr_index=0x420009, attributes=0x420125,
    alg=0x420028, length=0x42002A, mask=0x42002C, name=0x420053, name_value=0x420055, name_type=0x420054,
    common_t=0x42001F, private_t=0x420065, public_t=0x42006E, common_a=0x420126, private_a=0x420127,
    public_a=0x420128, secret=0x420085, secret_type=0x420086, key_block=0x420040, kft=0x420042,
    key_value=0x420045, key_material=0x420043, symmetric=0x42008F, revocation=0x420081,
    revocation_code=0x420082, maximum_items=0x42004F, offset_items=0x4200D2, storage_mask=0x42008E,
    query_function=0x420074, new_attr=0x42013D, current_attr=0x42013C, attr_ref=0x42013B,
    private_uid=0x420066, offset=0x420058, batch_id=0x420093, error_option=0x42000E, max_response=0x420050,
    opaque=0x420089, opaque_type=0x42008A, opaque_value=0x42008B, group_member=0x4200AC,
    activation=0x420001, derivation_method=0x420031, derivation_params=0x420032, derivation_data=0x420030,
    crypto_params=0x42002B, hashing_alg=0x420038, salt=0x420084, iteration_count=0x42003C,
    split_key=0x420089, split_parts=0x42008B, split_threshold=0x42008C,
    split_method=0x42008A, key_part=0x420044, prime_field=0x420062,
)

OPS = dict(create=0x01, create_key_pair=0x02, register=0x03, rekey=0x04, locate=0x08, get=0x0A,
           get_attributes=0x0B, get_attribute_list=0x0C, add_attribute=0x0D, modify_attribute=0x0E,
           delete_attribute=0x0F, activate=0x12, revoke=0x13, destroy=0x14, query=0x18,
           discover_versions=0x1E, rekey_key_pair=0x19, set_attribute=0x2D, derive_key=0x05,
           create_split_key=0x28, join_split_key=0x29)


def request(major, minor, *batch_items, header_extra=b""):
    header = structure(T["header"], structure(T["version"], integer(T["major"], major), integer(T["minor"], minor)),
                       header_extra, integer(T["count"], len(batch_items)))
    return structure(T["request"], header, *batch_items)


def batch_item(op, *payload, bid=None):
    return structure(T["batch"], enum(T["op"], OPS[op]), byte_string(T["batch_id"], bid) if bid else b"",
                     structure(T["payload"], *payload))


def attr1(name, value_item, index=None):
    return structure(T["attribute"], text(T["attr_name"], name),
                     integer(T["attr_index"], index) if index is not None else b"", value_item)


def aes_template_1x(name):
    return structure(T["template"],
                     attr1("Cryptographic Algorithm", enum(T["attr_value"], 3)),
                     attr1("Cryptographic Length", integer(T["attr_value"], 256)),
                     attr1("Cryptographic Usage Mask", integer(T["attr_value"], 12)),
                     attr1("Name", structure(T["attr_value"], text(T["name_value"], name),
                                             enum(T["name_type"], 1))))


def aes_attributes_2x(name):
    return structure(T["attributes"], enum(T["alg"], 3), integer(T["length"], 256), integer(T["mask"], 12),
                     structure(T["name"], text(T["name_value"], name), enum(T["name_type"], 1)))


def secret_data(value):
    return structure(T["secret"], enum(T["secret_type"], 1),
                     structure(T["key_block"], enum(T["kft"], 2),
                               structure(T["key_value"], byte_string(T["key_material"], value))))


def handmade():
    """Requests for every operation kmipd implements; "1" names the first object a sequence made (see fuzz_request)."""
    seqs = {}
    seqs["lifecycle-1.4"] = [
        request(1, 4, batch_item("create", enum(T["object_type"], 2), aes_template_1x("fuzz-key"))),
        request(1, 4, batch_item("get_attribute_list", text(T["uid"], "1"))),
        request(1, 4, batch_item("get_attributes", text(T["uid"], "1"), text(T["attr_name"], "Name"),
                                 text(T["attr_name"], "State"))),
        request(1, 4, batch_item("add_attribute", text(T["uid"], "1"),
                                 attr1("x-fuzz", text(T["attr_value"], "one")))),
        request(1, 4, batch_item("modify_attribute", text(T["uid"], "1"),
                                 attr1("x-fuzz", text(T["attr_value"], "two"), 0))),
        request(1, 4, batch_item("delete_attribute", text(T["uid"], "1"), text(T["attr_name"], "x-fuzz"),
                                 integer(T["attr_index"], 0))),
        request(1, 4, batch_item("activate", text(T["uid"], "1"))),
        request(1, 4, batch_item("rekey", text(T["uid"], "1"), interval(T["offset"], 3600))),
        request(1, 4, batch_item("get", text(T["uid"], "1"), enum(T["kft"], 1))),
        request(1, 4, batch_item("locate", integer(T["maximum_items"], 5), integer(T["offset_items"], 0),
                                 integer(T["storage_mask"], 1),
                                 attr1("Name", structure(T["attr_value"], text(T["name_value"], "fuzz-key"),
                                                         enum(T["name_type"], 1))))),
        request(1, 4, batch_item("revoke", text(T["uid"], "1"),
                                 structure(T["revocation"], enum(T["revocation_code"], 5)))),
        request(1, 4, batch_item("destroy", text(T["uid"], "1"))),
        request(1, 4, batch_item("get", text(T["uid"], "1"))),
    ]
    seqs["lifecycle-2.1"] = [
        request(2, 1, batch_item("create", enum(T["object_type"], 2), aes_attributes_2x("fuzz-key-2"))),
        request(2, 1, batch_item("set_attribute", text(T["uid"], "1"),
                                 structure(T["new_attr"], date_time(T["activation"], 1)))),
        request(2, 1, batch_item("add_attribute", text(T["uid"], "1"),
                                 structure(T["new_attr"], structure(T["name"], text(T["name_value"], "alias"),
                                                                    enum(T["name_type"], 1))))),
        request(2, 1, batch_item("modify_attribute", text(T["uid"], "1"),
                                 structure(T["current_attr"], structure(T["name"], text(T["name_value"], "alias"),
                                                                        enum(T["name_type"], 1))),
                                 structure(T["new_attr"], structure(T["name"], text(T["name_value"], "alias2"),
                                                                    enum(T["name_type"], 1))))),
        request(2, 1, batch_item("delete_attribute", text(T["uid"], "1"), enum(T["attr_ref"], T["name"]))),
        request(2, 1, batch_item("get_attributes", text(T["uid"], "1"), enum(T["attr_ref"], T["alg"]))),
        request(2, 1, batch_item("get_attribute_list", text(T["uid"], "1"))),
        request(2, 1, batch_item("locate", integer(T["maximum_items"], 1),
                                 structure(T["attributes"], enum(T["object_type"], 2), enum(T["alg"], 3)))),
        request(2, 1, batch_item("query", enum(T["query_function"], 1), enum(T["query_function"], 2),
                                 enum(T["query_function"], 3))),
    ]
    seqs["keypair-1.4"] = [
        request(1, 4, batch_item("create_key_pair",
                                 structure(T["common_t"], attr1("Cryptographic Algorithm", enum(T["attr_value"], 4)),
                                           attr1("Cryptographic Length", integer(T["attr_value"], 2048))),
                                 structure(T["private_t"], attr1("Cryptographic Usage Mask",
                                                                 integer(T["attr_value"], 1))),
                                 structure(T["public_t"], attr1("Cryptographic Usage Mask",
                                                                integer(T["attr_value"], 2))))),
        request(1, 4, batch_item("rekey_key_pair", text(T["private_uid"], "1"))),
    ]
    seqs["keypair-2.1"] = [
        request(2, 1, batch_item("create_key_pair",
                                 structure(T["common_a"], enum(T["alg"], 26), integer(T["length"], 256)),
                                 structure(T["private_a"], integer(T["mask"], 1)),
                                 structure(T["public_a"], integer(T["mask"], 2)))),
    ]
    # Split keys: "1" the AES key, "2" to "4" its parts (fuzz_request numbers identifiers as responses show them).
    prime130 = b"\x00" * 7 + bytes.fromhex("03" + "ff" * 15 + "fb")
    seqs["split-1.4"] = [
        request(1, 4, batch_item("create", enum(T["object_type"], 2), aes_template_1x("fuzz-split"))),
        request(1, 4, batch_item("create_split_key", enum(T["object_type"], 5), text(T["uid"], "1"),
                                 integer(T["split_parts"], 3), integer(T["split_threshold"], 2),
                                 enum(T["split_method"], 4))),
        request(1, 4, batch_item("join_split_key", enum(T["object_type"], 2), text(T["uid"], "4"),
                                 text(T["uid"], "2"))),
        request(1, 4, batch_item("get", text(T["uid"], "3"))),
        request(1, 4, batch_item("register", enum(T["object_type"], 5), structure(T["template"]),
                                 structure(T["split_key"], integer(T["split_parts"], 2), integer(T["key_part"], 1),
                                           integer(T["split_threshold"], 2), enum(T["split_method"], 1),
                                           structure(T["key_block"], enum(T["kft"], 1),
                                                     structure(T["key_value"],
                                                               byte_string(T["key_material"], b"\x01" * 16)))))),
    ]
    seqs["split-2.1"] = [
        request(2, 1, batch_item("create_split_key", enum(T["object_type"], 5), integer(T["split_parts"], 3),
                                 integer(T["split_threshold"], 2), enum(T["split_method"], 3),
                                 item(T["prime_field"], 0x04, prime130),
                                 structure(T["attributes"], enum(T["alg"], 3), integer(T["length"], 128)))),
        request(2, 1, batch_item("join_split_key", enum(T["object_type"], 7), text(T["uid"], "1"),
                                 text(T["uid"], "3"))),
        request(2, 1, batch_item("create_split_key", enum(T["object_type"], 5), integer(T["split_parts"], 4),
                                 integer(T["split_threshold"], 3), enum(T["split_method"], 2),
                                 structure(T["attributes"], enum(T["alg"], 3), integer(T["length"], 256)))),
    ]
    seqs["register-batch-1.2"] = [
        request(1, 2,
                batch_item("register", enum(T["object_type"], 7), structure(T["template"]),
                           secret_data(b"correct horse battery staple"), bid=b"a"),
                batch_item("activate", bid=b"b"),
                batch_item("get", bid=b"c"),
                batch_item("register", enum(T["object_type"], 8), structure(T["template"]),
                           structure(T["opaque"], enum(T["opaque_type"], 0x80000001),
                                     byte_string(T["opaque_value"], b"\x00\x01\x02")), bid=b"d"),
                header_extra=enum(T["error_option"], 1) + integer(T["max_response"], 100000)),
        request(1, 0, batch_item("discover_versions")),
        request(1, 1, batch_item("discover_versions", structure(T["version"], integer(T["major"], 2),
                                                                integer(T["minor"], 0)))),
    ]
    # Derive Key (area 4): a Secret Data for derivation, then HMAC and PBKDF2 from it, 1.4 and 2.1.
    derive_secret = structure(T["template"], attr1("Cryptographic Usage Mask", integer(T["attr_value"], 0x200)))
    seqs["derive-1.4"] = [
        request(1, 4, batch_item("register", enum(T["object_type"], 7), derive_secret,
                                 secret_data(b"a derivation base"))),
        request(1, 4, batch_item("activate", text(T["uid"], "1"))),
        request(1, 4, batch_item("derive_key", enum(T["object_type"], 2), text(T["uid"], "1"),
                                 enum(T["derivation_method"], 3),
                                 structure(T["derivation_params"],
                                           structure(T["crypto_params"], enum(T["hashing_alg"], 4)),
                                           byte_string(T["derivation_data"], b"context")),
                                 structure(T["template"], attr1("Cryptographic Algorithm", enum(T["attr_value"], 3)),
                                           attr1("Cryptographic Length", integer(T["attr_value"], 128))))),
    ]
    seqs["derive-2.1"] = [
        request(2, 1, batch_item("register", enum(T["object_type"], 7),
                                 structure(T["attributes"], integer(T["mask"], 0x200)),
                                 secret_data(b"a derivation base"))),
        request(2, 1, batch_item("activate", text(T["uid"], "1"))),
        request(2, 1, batch_item("derive_key", enum(T["object_type"], 7), text(T["uid"], "1"),
                                 enum(T["derivation_method"], 1),
                                 structure(T["derivation_params"], byte_string(T["salt"], b"NaCl"),
                                           integer(T["iteration_count"], 1000)),
                                 structure(T["attributes"], integer(T["length"], 256)))),
    ]
    return seqs


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as w:
        w.write(data)


def main():
    out = sys.argv[1]
    vectors = sys.argv[2] if len(sys.argv) > 2 else "../shared/kmip-vectors"
    os.makedirs(out, exist_ok=True)
    path = os.path.join(vectors, "ttlv-hex", "spec-v1.4-section-9.1.2-examples.tsv")
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, _, compact = line.rstrip("\n").split("\t")
            write(out, "spec-" + name, b"\x07" + structure(0x420078, bytes.fromhex(compact)))
    seeds = {
        "get-1.4": request(1, 4, structure(0x42000F, enum(0x42005C, 0x0A),
                                           structure(0x420079, text(0x420094, "1")))),
        "locate-2.1": request(2, 1, structure(0x42000F, enum(0x42005C, 0x08), structure(
            0x420079, structure(0x420125, structure(0x420053, text(0x420055, "veeam-key"),
                                                    enum(0x420054, 1)))))),
        "discover-1.0": request(1, 0, structure(0x42000F, enum(0x42005C, 0x1E), structure(0x420079))),
    }
    for name, msg in seeds.items():
        for split in (0, 3, 255):
            write(out, "%s-split%d" % (name, split), bytes([split]) + msg)

    tables = Tables(vectors)
    conv = Converter(tables, int(time.time()))
    files = sorted(glob.glob(os.path.join(vectors, "oasis-profiles-v*-os", "*", "*.xml")))
    nmsg = nfail = 0
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            msgs = conv.requests(path)
        except (KeyError, ValueError, ET.ParseError) as e:
            print("seed-corpus: %s: %s" % (path, e), file=sys.stderr)
            nfail += 1
            continue
        for i, m in enumerate(msgs):
            write(out, "%s-%02d" % (stem, i), bytes([SELECT_ONE]) + m)
        if len(msgs) > 1:
            write(out, "%s-all" % stem, bytes([SELECT_SEQUENCE]) + b"".join(msgs))
        nmsg += len(msgs)
    for name, msgs in handmade().items():
        for i, m in enumerate(msgs):
            write(out, "made-%s-%02d" % (name, i), bytes([SELECT_ONE]) + m)
        write(out, "made-%s-all" % name, bytes([SELECT_SEQUENCE]) + b"".join(msgs))
    print("seed-corpus: %d request messages from %d test cases (%d not converted) in %s" %
          (nmsg, len(files) - nfail, nfail, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
