#!/usr/bin/python3
"""
Interoperability suite: PyKMIP's client (Debian python3-pykmip) drives a real kmipd over mutual TLS through the
key lifecycle, once per KMIP version PyKMIP speaks (1.0, 1.1, 1.2, 1.3, 1.4, 2.0).

Each version gets its own kmipd, started in a temporary folder with the certificates of etc/mkcerts.sh, the way
test/integration/harness.c starts it. Every test opens a fresh PyKMIP connection. The output imitates cmocka's,
so test/run-tests.sh counts the cases:

    [ RUN      ] kmip_1_4.create_get_aes256
    [       OK ] kmip_1_4.create_get_aes256
    ...
    [  PASSED  ] N test(s).
    [  FAILED  ] M test(s), listed below:
    [  FAILED  ] kmip_2_0.locate

A failing case prints its traceback and the kmipd log written while it ran. The exit status is non-zero when any
case fails.

Usage: test_pykmip [SUBSTRING...]   runs only the cases whose full name contains one of the substrings.
Environment: KMIPD_BIN (default SRCDIR/build/kmipd), KMIPD_SRCDIR (where etc/mkcerts.sh lives; default the
current folder if it has one, else two levels above this script), KMIPD_TEST_SHOWLOG (print every server log).

What PyKMIP 0.10 cannot do is left out of the matrix, with the reason next to the case that would need it:
- Add Attribute: PyKMIP has no payload classes for it (its response factory raises NotImplementedError), so this
  file defines the two payloads on PyKMIP's own primitives and registers the response one in its factory; the
  request still travels through KMIPProxy.send_request_payload.
- Link, Revocation Reason, X.509 Certificate Subject/Issuer/Identifier and Original Creation Date values cannot
  be decoded by PyKMIP's attribute value factory, so no case reads them through Get Attributes, and "Get
  Attributes with no names" (every attribute) is run only at 1.0 and 1.1, where none of them exists yet for a
  freshly created symmetric key (Original Creation Date is a KMIP 1.2 attribute).
- Transparent key formats: PyKMIP cannot decode transparent key material, so Get is checked with Raw, PKCS#1,
  PKCS#8 and X.509 only.
- Set Attribute exists only from KMIP 2.0; PyKMIP refuses to encode it for 1.x.
"""

import atexit
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import unittest
import warnings

# PyKMIP calls ssl.wrap_socket and PROTOCOL_SSLv23, which Python 3.11 flags as deprecated.
warnings.simplefilter("ignore", DeprecationWarning)

import logging  # noqa: E402

# PyKMIP logs every connection failure at ERROR; the test reports failures itself.
logging.disable(logging.CRITICAL)

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import dsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from kmip.core import attributes as cattributes  # noqa: E402
from kmip.core import enums  # noqa: E402
from kmip.core import exceptions as core_exceptions  # noqa: E402
from kmip.core import misc  # noqa: E402
from kmip.core import objects as cobjects  # noqa: E402
from kmip.core import primitives  # noqa: E402
from kmip.core import utils  # noqa: E402
from kmip.core.factories import attribute_values  # noqa: E402
from kmip.core.factories import attributes as attribute_factories  # noqa: E402
from kmip.core.factories.payloads import response as response_factories  # noqa: E402
from kmip.core.messages import contents  # noqa: E402
from kmip.core.messages import payloads  # noqa: E402
from kmip.pie import exceptions as pie_exceptions  # noqa: E402
from kmip.pie import objects as pobjects  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402

V = enums.KMIPVersion
VERSIONS = [V.KMIP_1_0, V.KMIP_1_1, V.KMIP_1_2, V.KMIP_1_3, V.KMIP_1_4, V.KMIP_2_0]
RR = enums.ResultReason
ST = enums.State
OT = enums.ObjectType
ALG = enums.CryptographicAlgorithm
KFT = enums.KeyFormatType

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
SOCKET_TIMEOUT = 10          # seconds PyKMIP waits for one response
LOG_DUMP_LINES = 200


# ---------------------------------------------------------------------------------------------------------------
# Add Attribute payloads. PyKMIP 0.10 has none, so they are written here on PyKMIP's primitives.
# KMIP 1.x: request and response carry Unique Identifier and Attribute. KMIP 2.0: the request carries Unique
# Identifier and New Attribute, the response only Unique Identifier.

class AddAttributeRequestPayload(payloads.RequestPayload):
    """Add Attribute request: an Attribute (1.x) or a NewAttribute (2.0) for one object."""

    def __init__(self, unique_identifier, attribute=None, new_attribute=None):
        super(AddAttributeRequestPayload, self).__init__()
        self.unique_identifier = unique_identifier
        self.attribute = attribute
        self.new_attribute = new_attribute

    def write(self, output_buffer, kmip_version=V.KMIP_1_0):
        body = utils.BytearrayStream()
        primitives.TextString(self.unique_identifier, tag=enums.Tags.UNIQUE_IDENTIFIER).write(
            body, kmip_version=kmip_version)
        if kmip_version < V.KMIP_2_0:
            self.attribute.write(body, kmip_version=kmip_version)
        else:
            self.new_attribute.write(body, kmip_version=kmip_version)
        self.length = body.length()
        super(AddAttributeRequestPayload, self).write(output_buffer, kmip_version=kmip_version)
        output_buffer.write(body.buffer)


class AddAttributeResponsePayload(payloads.ResponsePayload):
    """Add Attribute response: the Unique Identifier, and in 1.x the attribute as the server stored it."""

    def __init__(self):
        super(AddAttributeResponsePayload, self).__init__()
        self.unique_identifier = None
        self.attribute = None

    def read(self, input_buffer, kmip_version=V.KMIP_1_0):
        super(AddAttributeResponsePayload, self).read(input_buffer, kmip_version=kmip_version)
        body = utils.BytearrayStream(input_buffer.read(self.length))
        if not self.is_tag_next(enums.Tags.UNIQUE_IDENTIFIER, body):
            raise core_exceptions.InvalidKmipEncoding("Add Attribute response without Unique Identifier")
        uid = primitives.TextString(tag=enums.Tags.UNIQUE_IDENTIFIER)
        uid.read(body, kmip_version=kmip_version)
        self.unique_identifier = uid.value
        if kmip_version < V.KMIP_2_0:
            if not self.is_tag_next(enums.Tags.ATTRIBUTE, body):
                raise core_exceptions.InvalidKmipEncoding("KMIP 1.x Add Attribute response without Attribute")
            self.attribute = cobjects.Attribute()
            self.attribute.read(body, kmip_version=kmip_version)
        self.is_oversized(body)


response_factories.ResponsePayloadFactory._create_add_attribute_payload = \
    lambda self: AddAttributeResponsePayload()


class LinkValue(primitives.Struct):
    """A Link attribute (2.0 spelling), which PyKMIP's attribute value factory cannot make (area 3, split)."""

    def __init__(self, link_type, target):
        super(LinkValue, self).__init__(tag=enums.Tags.LINK)
        self.link_type = link_type
        self.target = target

    def write(self, output_buffer, kmip_version=V.KMIP_2_0):
        body = utils.BytearrayStream()
        primitives.Enumeration(enums.LinkType, self.link_type, tag=enums.Tags.LINK_TYPE).write(
            body, kmip_version=kmip_version)
        primitives.TextString(self.target, tag=enums.Tags.LINKED_OBJECT_IDENTIFIER).write(
            body, kmip_version=kmip_version)
        self.length = body.length()
        super(LinkValue, self).write(output_buffer, kmip_version=kmip_version)
        output_buffer.write(body.buffer)


# ---------------------------------------------------------------------------------------------------------------
# The environment: source folder, kmipd binary, certificates and test material made once per run.

def find_srcdir():
    env = os.environ.get("KMIPD_SRCDIR")
    if env:
        return os.path.abspath(env)
    if os.path.exists(os.path.join(os.getcwd(), "etc", "mkcerts.sh")):
        return os.getcwd()
    return os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))


class Material(object):
    """Certificates from etc/mkcerts.sh plus an X.509 certificate and an RSA key made for Register."""

    def __init__(self):
        self.srcdir = find_srcdir()
        binary = os.environ.get("KMIPD_BIN") or os.path.join(self.srcdir, "build", "kmipd")
        self.kmipd = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix="kmipd-pykmip-")
        self.certs = os.path.join(self.dir, "certs")
        subprocess.run([os.path.join(self.srcdir, "etc", "mkcerts.sh"), self.certs, "localhost"],
                       check=True, stdout=subprocess.DEVNULL)
        # PyKMIP reads a config file for what is not passed directly; this one only bounds each wait.
        self.client_conf = os.path.join(self.dir, "pykmip.conf")
        with open(self.client_conf, "w") as f:
            f.write("[client]\ntimeout=%d\n" % SOCKET_TIMEOUT)
        # A self-signed certificate made with openssl, to Register.
        key = os.path.join(self.dir, "cert.key")
        der = os.path.join(self.dir, "cert.der")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-outform", "DER", "-out", der, "-days", "2",
                        "-subj", "/O=kmipd tests/CN=pykmip register"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(der, "rb") as f:
            self.cert_der = f.read()
        # An RSA key pair to Register, in PKCS#1 DER.
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_private_pkcs1 = k.private_bytes(serialization.Encoding.DER,
                                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                                 serialization.NoEncryption())
        self.rsa_public_pkcs1 = k.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.PKCS1)

    def cert(self, name):
        return os.path.join(self.certs, name)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


MATERIAL = None


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


STARTED = []


@atexit.register
def kill_leftovers():
    """Whatever happens to the runner (an interrupt, a bug), no kmipd outlives it."""
    for server in STARTED:
        if server.alive():
            server.proc.kill()
            server.proc.wait()


class Kmipd(object):
    """One kmipd process in its own folder, logging at debug level into DIR/kmipd.log."""

    def __init__(self, material, extra=()):
        self.material = material
        self.dir = tempfile.mkdtemp(prefix="kmipd-test-")
        self.log = os.path.join(self.dir, "kmipd.log")
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self):
        m = self.material
        opts = ["server.listen=127.0.0.1", "server.port=%d" % self.port,
                "tls.cert_file=" + m.cert("server.crt"), "tls.key_file=" + m.cert("server.key"),
                "tls.clients_ca_cert_file=" + m.cert("ca.crt"), "store.path=" + os.path.join(self.dir, "store"),
                "log.level=debug", "keygen.pool_size=2"]
        if not any(e.startswith(("store.master_key", "store.encryption", "store.pkcs11_module")) for e in self.extra):
            key = os.path.join(self.dir, "master.key")
            if not os.path.exists(key):
                fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, os.urandom(32))
                os.close(fd)
            opts.append("store.master_key_file=" + key)
        opts += self.extra
        argv = [m.kmipd, "-f", "-c", "/dev/null"]  # never an installed /etc/kmipd/kmipd.conf
        for o in opts:
            argv += ["-o", o]
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        STARTED.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if "listening on" in self.text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("kmipd exited at start-up with status %d:\n%s" % (self.proc.returncode,
                                                                                    self.text()))
            time.sleep(0.02)
        raise RuntimeError("kmipd did not log 'listening on' within %.0f s:\n%s" % (START_TIMEOUT, self.text()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def text(self, offset=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """Stops the server with SIGTERM (SIGKILL after a while); returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# The cases. LifecycleTests is the body; one subclass per KMIP version sets VERSION.

def op_name(fn):
    """The name of a client method, seen through the undecorated wrapper ProxyKmipClient puts around it."""
    f = getattr(fn, "__func__", fn)
    for cell in getattr(f, "__closure__", None) or ():
        if callable(cell.cell_contents):
            return cell.cell_contents.__name__
    return getattr(f, "__name__", repr(fn))


def attr_value(v):
    """The Python value inside a decoded PyKMIP attribute value."""
    if hasattr(v, "name_value"):
        return v.name_value.value
    return v.value


class LifecycleTests(unittest.TestCase):
    VERSION = None
    server = None
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.server = Kmipd(MATERIAL)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()

    def setUp(self):
        self.client = self.connect()
        self.attr_factory = attribute_factories.AttributeFactory()
        self.value_factory = attribute_values.AttributeValueFactory()

    def tearDown(self):
        self.client.close()

    # -- helpers ---------------------------------------------------------------------------------------------

    def connect(self):
        c = ProxyKmipClient(hostname="127.0.0.1", port=self.server.port, cert=MATERIAL.cert("client.crt"),
                            key=MATERIAL.cert("client.key"), ca=MATERIAL.cert("ca.crt"),
                            ssl_version="PROTOCOL_SSLv23", config_file=MATERIAL.client_conf,
                            kmip_version=self.VERSION)
        c.open()
        return c

    @property
    def v2(self):
        return self.VERSION >= V.KMIP_2_0

    def unique_name(self, what=""):
        LifecycleTests.counter += 1
        return "pykmip-%s-%s%s-%d-%d" % (self.VERSION.name, self._testMethodName, what, os.getpid(),
                                         LifecycleTests.counter)

    def not_found(self):
        """The reason an unknown identifier gets: Item Not Found in 1.x, Object Not Found from 2.0."""
        return RR.OBJECT_NOT_FOUND if self.v2 else RR.ITEM_NOT_FOUND

    def wrong_state(self):
        """The reason for an operation the object's state forbids: Permission Denied in 1.x (OASIS SKLC-M-2-14),
        Wrong Key Lifecycle State from 2.0 (SKLC-M-2-21)."""
        return RR.WRONG_KEY_LIFECYCLE_STATE if self.v2 else RR.PERMISSION_DENIED

    def assert_fails(self, reason, fn, *args, **kwargs):
        """Runs fn, which must fail with a KMIP Operation Failed result carrying reason and a message."""
        try:
            fn(*args, **kwargs)
        except (pie_exceptions.KmipOperationFailure, core_exceptions.OperationFailure) as e:
            self.assertEqual(e.status, enums.ResultStatus.OPERATION_FAILED, str(e))
            self.assertEqual(e.reason, reason, "wrong result reason: %s" % e)
            message = e.message if isinstance(e, pie_exceptions.KmipOperationFailure) else str(e)
            self.assertTrue(message, "failure without a Result Message")
            return e
        self.fail("%s succeeded; expected a failure with %s" % (op_name(fn), reason.name))

    def attrs(self, uid, names):
        """Get Attributes for names; returns {name: [values]}."""
        rid, attributes = self.client.get_attributes(uid, names)
        self.assertEqual(rid, uid)
        out = {}
        for a in attributes:
            out.setdefault(a.attribute_name.value, []).append(attr_value(a.attribute_value))
        return out

    def state(self, uid):
        a = self.attrs(uid, ["State"])
        self.assertEqual(len(a.get("State", [])), 1, "State: %r" % a)
        return a["State"][0]

    def names(self, uid):
        return self.attrs(uid, ["Name"]).get("Name", [])

    def create_aes(self, name=None, length=256):
        uid = self.client.create(ALG.AES, length, name=name, cryptographic_usage_mask=[
            enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT])
        self.assertIsInstance(uid, str)
        self.assertTrue(uid)
        return uid

    def name_attr(self, name):
        return self.attr_factory.create_attribute(enums.AttributeType.NAME, name)

    def type_attr(self, object_type):
        return self.attr_factory.create_attribute(enums.AttributeType.OBJECT_TYPE, object_type)

    def add_attribute(self, uid, tag, attr_type, value):
        """Add Attribute through KMIPProxy with the payloads above; returns the response payload."""
        if self.v2:
            new = cobjects.NewAttribute(attribute=self.value_factory.create_attribute_value_by_enum(tag, value))
            request = AddAttributeRequestPayload(uid, new_attribute=new)
        else:
            request = AddAttributeRequestPayload(uid, attribute=self.attr_factory.create_attribute(attr_type,
                                                                                                    value))
        response = self.client.proxy.send_request_payload(enums.Operation.ADD_ATTRIBUTE, request)
        self.assertIsInstance(response, AddAttributeResponsePayload)
        self.assertEqual(response.unique_identifier, uid)
        return response

    def send(self, operation, request):
        """One operation through KMIPProxy.send_request_payload; a failure becomes a test failure that names
        the result reason (PyKMIP's OperationFailure shows only the message)."""
        try:
            return self.client.proxy.send_request_payload(operation, request)
        except core_exceptions.OperationFailure as e:
            self.fail("%s failed: %s %s: %s" % (operation.name, e.status.name, e.reason.name, e))

    def get_as(self, uid, fmt):
        """Get with a Key Format Type, through KMIPProxy (ProxyKmipClient.get cannot ask for one); returns
        PyKMIP's GetResult."""
        return self.client.proxy.get(uid, key_format_type=misc.KeyFormatType(fmt))

    @staticmethod
    def load_private(der, fmt):
        if fmt in (KFT.PKCS_1, KFT.PKCS_8):
            return serialization.load_der_private_key(der, password=None)
        raise AssertionError("unexpected private key format %s" % fmt)

    @staticmethod
    def load_public(der, fmt):
        if fmt == KFT.PKCS_1:
            return serialization.load_der_public_key(der)
        if fmt == KFT.X_509:
            return serialization.load_der_public_key(der)
        raise AssertionError("unexpected public key format %s" % fmt)

    # -- Discover Versions and Query ----------------------------------------------------------------------------

    def test_discover_versions(self):
        # Every version PyKMIP speaks, highest first; the client's own among them.
        # Sent through send_request_payload: KMIPProxy.discover_versions crashes on a failure response instead of
        # reporting it.
        result = self.send(enums.Operation.DISCOVER_VERSIONS, payloads.DiscoverVersionsRequestPayload())
        got = [(pv.major, pv.minor) for pv in result.protocol_versions]
        for want in [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0)]:
            self.assertIn(want, got)
        self.assertEqual(got, sorted(got, reverse=True), "not in decreasing order of preference")
        # Asked about a list, the server answers with the versions of that list it supports.
        ask = [contents.ProtocolVersion(1, 4), contents.ProtocolVersion(1, 0), contents.ProtocolVersion(9, 9)]
        result = self.send(enums.Operation.DISCOVER_VERSIONS, payloads.DiscoverVersionsRequestPayload(ask))
        self.assertEqual([(pv.major, pv.minor) for pv in result.protocol_versions], [(1, 4), (1, 0)])

    def test_query(self):
        q = enums.QueryFunction
        result = self.client.proxy.query(query_functions=[q.QUERY_OPERATIONS, q.QUERY_OBJECTS,
                                                          q.QUERY_SERVER_INFORMATION])
        self.assertEqual(result.result_status.value, enums.ResultStatus.SUCCESS,
                         "%s %s" % (result.result_reason, result.result_message))
        ops = set(result.operations)
        op = enums.Operation
        want = {op.CREATE, op.CREATE_KEY_PAIR, op.REGISTER, op.REKEY, op.LOCATE, op.GET, op.GET_ATTRIBUTES,
                op.GET_ATTRIBUTE_LIST, op.ADD_ATTRIBUTE, op.MODIFY_ATTRIBUTE, op.DELETE_ATTRIBUTE, op.ACTIVATE,
                op.REVOKE, op.DESTROY, op.QUERY}
        if self.VERSION >= V.KMIP_1_1:
            want |= {op.DISCOVER_VERSIONS, op.REKEY_KEY_PAIR}
        self.assertTrue(want <= ops, "missing operations: %s" % sorted(o.name for o in want - ops))
        # Set Attribute is a 2.0 operation: listed for 2.0 clients only.
        if self.v2:
            self.assertIn(op.SET_ATTRIBUTE, ops)
        else:
            self.assertNotIn(op.SET_ATTRIBUTE, ops)
        objs = set(result.object_types)
        want_objs = {OT.SYMMETRIC_KEY, OT.PUBLIC_KEY, OT.PRIVATE_KEY, OT.CERTIFICATE, OT.SECRET_DATA,
                     OT.OPAQUE_DATA}
        self.assertTrue(want_objs <= objs, "missing object types: %s" % sorted(o.name for o in want_objs - objs))
        self.assertTrue(result.vendor_identification, "no Vendor Identification")

    # -- Create and Get ---------------------------------------------------------------------------------------

    def test_create_get_aes256(self):
        uid = self.create_aes(self.unique_name())
        key = self.client.get(uid)
        self.assertIsInstance(key, pobjects.SymmetricKey)
        self.assertEqual(key.object_type, OT.SYMMETRIC_KEY)
        self.assertEqual(key.cryptographic_algorithm, ALG.AES)
        self.assertEqual(key.cryptographic_length, 256)
        self.assertEqual(key.key_format_type, KFT.RAW)
        self.assertEqual(len(key.value), 32)
        other = self.client.get(self.create_aes())
        self.assertNotEqual(key.value, other.value, "two created keys share their bytes")

    def test_create_get_hmac(self):
        uid = self.client.create(ALG.HMAC_SHA256, 256, name=self.unique_name())
        key = self.client.get(uid)
        self.assertEqual(key.object_type, OT.SYMMETRIC_KEY)
        self.assertEqual(key.cryptographic_algorithm, ALG.HMAC_SHA256)
        self.assertEqual(len(key.value), 32)

    def test_create_key_pair_rsa2048(self):
        name = self.unique_name()
        public_uid, private_uid = self.client.create_key_pair(
            ALG.RSA, 2048, public_name=name + "-pub", private_name=name + "-priv",
            public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
            private_usage_mask=[enums.CryptographicUsageMask.SIGN])
        self.assertNotEqual(public_uid, private_uid)
        private = self.client.get(private_uid)
        public = self.client.get(public_uid)
        self.assertIsInstance(private, pobjects.PrivateKey)
        self.assertIsInstance(public, pobjects.PublicKey)
        self.assertEqual(private.object_type, OT.PRIVATE_KEY)
        self.assertEqual(public.object_type, OT.PUBLIC_KEY)
        self.assertEqual(private.cryptographic_algorithm, ALG.RSA)
        self.assertEqual(private.cryptographic_length, 2048)
        # Asked for no format, the server answers RSA keys in PKCS#1 (what Veeam and most clients expect).
        self.assertEqual(private.key_format_type, KFT.PKCS_1)
        self.assertEqual(public.key_format_type, KFT.PKCS_1)
        sk = self.load_private(private.value, private.key_format_type)
        pk = self.load_public(public.value, public.key_format_type)
        self.assertEqual(sk.key_size, 2048)
        self.assertEqual(sk.public_key().public_numbers(), pk.public_numbers(), "the two halves do not match")
        self.assertEqual(self.names(private_uid), [name + "-priv"])
        self.assertEqual(self.names(public_uid), [name + "-pub"])
        self.assertEqual(self.attrs(private_uid, ["Object Type"])["Object Type"], [OT.PRIVATE_KEY])
        # Explicit formats: PKCS#8 for the private key, X.509 SubjectPublicKeyInfo for the public key.
        r = self.get_as(private_uid, KFT.PKCS_8)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        self.assertEqual(r.secret.key_block.key_format_type.value, KFT.PKCS_8)
        sk8 = self.load_private(r.secret.key_block.key_value.key_material.value, KFT.PKCS_8)
        self.assertEqual(sk8.private_numbers(), sk.private_numbers())
        r = self.get_as(public_uid, KFT.X_509)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        self.assertEqual(r.secret.key_block.key_format_type.value, KFT.X_509)
        pk509 = self.load_public(r.secret.key_block.key_value.key_material.value, KFT.X_509)
        self.assertEqual(pk509.public_numbers(), pk.public_numbers())

    # -- Register and Get -------------------------------------------------------------------------------------

    def test_register_symmetric_key(self):
        value = bytes(range(16))
        uid = self.client.register(pobjects.SymmetricKey(ALG.AES, 128, value, name=self.unique_name()))
        key = self.client.get(uid)
        self.assertEqual(key.object_type, OT.SYMMETRIC_KEY)
        self.assertEqual(key.cryptographic_algorithm, ALG.AES)
        self.assertEqual(key.cryptographic_length, 128)
        self.assertEqual(key.value, value)

    def test_register_secret_data(self):
        value = b"correct horse battery staple"
        uid = self.client.register(pobjects.SecretData(value, enums.SecretDataType.PASSWORD,
                                                       name=self.unique_name()))
        secret = self.client.get(uid)
        self.assertIsInstance(secret, pobjects.SecretData)
        self.assertEqual(secret.data_type, enums.SecretDataType.PASSWORD)
        self.assertEqual(secret.value, value)

    def test_register_certificate(self):
        uid = self.client.register(pobjects.X509Certificate(MATERIAL.cert_der, name=self.unique_name()))
        cert = self.client.get(uid)
        self.assertIsInstance(cert, pobjects.X509Certificate)
        self.assertEqual(cert.object_type, OT.CERTIFICATE)
        self.assertEqual(cert.certificate_type, enums.CertificateType.X_509)
        self.assertEqual(cert.value, MATERIAL.cert_der)

    def test_register_opaque_object(self):
        value = b"\x00\x01opaque\xff"
        uid = self.client.register(pobjects.OpaqueObject(value, enums.OpaqueDataType.NONE,
                                                         name=self.unique_name()))
        obj = self.client.get(uid)
        self.assertIsInstance(obj, pobjects.OpaqueObject)
        self.assertEqual(obj.value, value)

    def test_register_rsa_keys(self):
        name = self.unique_name()
        private_uid = self.client.register(pobjects.PrivateKey(ALG.RSA, 2048, MATERIAL.rsa_private_pkcs1,
                                                               KFT.PKCS_1, name=name + "-priv"))
        public_uid = self.client.register(pobjects.PublicKey(ALG.RSA, 2048, MATERIAL.rsa_public_pkcs1,
                                                             KFT.PKCS_1, name=name + "-pub"))
        private = self.client.get(private_uid)
        public = self.client.get(public_uid)
        self.assertEqual(private.object_type, OT.PRIVATE_KEY)
        self.assertEqual(public.object_type, OT.PUBLIC_KEY)
        self.assertEqual(private.key_format_type, KFT.PKCS_1)
        self.assertEqual(public.key_format_type, KFT.PKCS_1)
        self.assertEqual(private.value, MATERIAL.rsa_private_pkcs1)
        self.assertEqual(public.value, MATERIAL.rsa_public_pkcs1)

    # -- Get Attributes, Get Attribute List -------------------------------------------------------------------

    def test_get_attributes(self):
        name = self.unique_name()
        uid = self.create_aes(name)
        a = self.attrs(uid, ["State", "Cryptographic Algorithm", "Name", "Cryptographic Length", "Object Type",
                             "Unique Identifier"])
        self.assertEqual(a.get("State"), [ST.PRE_ACTIVE])
        self.assertEqual(a.get("Cryptographic Algorithm"), [ALG.AES])
        self.assertEqual(a.get("Name"), [name])
        self.assertEqual(a.get("Cryptographic Length"), [256])
        self.assertEqual(a.get("Object Type"), [OT.SYMMETRIC_KEY])
        self.assertEqual(a.get("Unique Identifier"), [uid])

    def test_get_attributes_all(self):
        # Every attribute of a fresh key must decode in the client's version. Run at 1.0 and 1.1 only: from
        # 1.2 the server rightly returns Original Creation Date, a value PyKMIP 0.10 cannot decode.
        name = self.unique_name()
        uid = self.create_aes(name)
        rid, attributes = self.client.get_attributes(uid)
        self.assertEqual(rid, uid)
        got = set(a.attribute_name.value for a in attributes)
        for want in ["Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
                     "Name", "State", "Initial Date"]:
            self.assertIn(want, got)

    def test_get_attribute_list(self):
        uid = self.create_aes(self.unique_name())
        names = self.client.get_attribute_list(uid)
        for want in ["Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
                     "Name", "State", "Initial Date"]:
            self.assertIn(want, names)
        self.assertEqual(len(names), len(set(names)), "a name listed twice: %r" % names)

    # -- Add, Set, Modify, Delete Attribute -------------------------------------------------------------------

    def test_attribute_add_modify_delete(self):
        uid = self.create_aes(self.unique_name())
        tag, ci = enums.Tags.CONTACT_INFORMATION, enums.AttributeType.CONTACT_INFORMATION
        r = self.add_attribute(uid, tag, ci, "first@example.org")
        if not self.v2:
            self.assertEqual(r.attribute.attribute_name.value, "Contact Information")
            self.assertEqual(r.attribute.attribute_value.value, "first@example.org")
        self.assertEqual(self.attrs(uid, ["Contact Information"]).get("Contact Information"),
                         ["first@example.org"])
        if self.v2:
            # Set Attribute (2.0 only) replaces the value.
            rid = self.client.set_attribute(uid, attribute_name="Contact Information",
                                            attribute_value="second@example.org")
            self.assertEqual(rid, uid)
            self.assertEqual(self.attrs(uid, ["Contact Information"]).get("Contact Information"),
                             ["second@example.org"])
            current = cobjects.CurrentAttribute(
                attribute=self.value_factory.create_attribute_value_by_enum(tag, "second@example.org"))
            new = cobjects.NewAttribute(
                attribute=self.value_factory.create_attribute_value_by_enum(tag, "third@example.org"))
            rid, _ = self.client.modify_attribute(uid, current_attribute=current, new_attribute=new)
            self.assertEqual(rid, uid)
        else:
            rid, echoed = self.client.modify_attribute(
                uid, attribute=self.attr_factory.create_attribute(ci, "third@example.org"))
            self.assertEqual(rid, uid)
            # The response echoes the attribute with its new value (Synology DSM relies on it).
            self.assertEqual(echoed.attribute_name.value, "Contact Information")
            self.assertEqual(echoed.attribute_value.value, "third@example.org")
        self.assertEqual(self.attrs(uid, ["Contact Information"]).get("Contact Information"),
                         ["third@example.org"])
        if self.v2:
            current = cobjects.CurrentAttribute(
                attribute=self.value_factory.create_attribute_value_by_enum(tag, "third@example.org"))
            rid, _ = self.client.delete_attribute(uid, current_attribute=current)
        else:
            rid, deleted = self.client.delete_attribute(uid, attribute_name="Contact Information")
            self.assertEqual(deleted.attribute_name.value, "Contact Information")
            self.assertEqual(deleted.attribute_value.value, "third@example.org")
        self.assertEqual(rid, uid)
        self.assertNotIn("Contact Information", self.attrs(uid, ["Contact Information"]))
        self.assertNotIn("Contact Information", self.client.get_attribute_list(uid))

    def test_attribute_second_name(self):
        # Name is multi-valued: add a second one, find the object by it, delete it again.
        first, second = self.unique_name("-a"), self.unique_name("-b")
        uid = self.create_aes(first)
        self.add_attribute(uid, enums.Tags.NAME, enums.AttributeType.NAME, second)
        self.assertEqual(sorted(self.names(uid)), sorted([first, second]))
        self.assertEqual(self.client.locate(attributes=[self.name_attr(second)]), [uid])
        if self.v2:
            current = cobjects.CurrentAttribute(
                attribute=self.value_factory.create_attribute_value_by_enum(enums.Tags.NAME, second))
            self.client.delete_attribute(uid, current_attribute=current)
        else:
            _, deleted = self.client.delete_attribute(uid, attribute_name="Name", attribute_index=1)
            self.assertEqual(attr_value(deleted.attribute_value), second)
        self.assertEqual(self.names(uid), [first])
        self.assertEqual(self.client.locate(attributes=[self.name_attr(second)]), [])

    # -- Lifecycle --------------------------------------------------------------------------------------------

    def test_activate_revoke_destroy(self):
        uid = self.create_aes(self.unique_name())
        self.assertEqual(self.state(uid), ST.PRE_ACTIVE)
        self.client.activate(uid)
        self.assertEqual(self.state(uid), ST.ACTIVE)
        self.assertIn("Activation Date", self.attrs(uid, ["Activation Date"]))
        self.client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid, "rotated")
        self.assertEqual(self.state(uid), ST.DEACTIVATED)
        self.assertIn("Deactivation Date", self.attrs(uid, ["Deactivation Date"]))
        self.client.destroy(uid)
        # The key material is gone; the metadata stays, in state Destroyed.
        self.assertEqual(self.state(uid), ST.DESTROYED)
        self.assertIn("Destroy Date", self.attrs(uid, ["Destroy Date"]))
        # Get of a destroyed object: 2.x has Object Destroyed (OASIS BL-M-8-21); 1.x has no such reason.
        self.assert_fails(RR.OBJECT_DESTROYED if self.v2 else RR.ITEM_NOT_FOUND, self.client.get, uid)

    def test_revoke_compromised(self):
        uid = self.create_aes(self.unique_name())
        self.client.activate(uid)
        occurred = int(time.time()) - 3600
        self.client.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, uid, "leaked",
                           compromise_occurrence_date=occurred)
        self.assertEqual(self.state(uid), ST.COMPROMISED)
        a = self.attrs(uid, ["Compromise Date", "Compromise Occurrence Date"])
        self.assertIn("Compromise Date", a)
        self.assertEqual(a.get("Compromise Occurrence Date"), [occurred])
        # A compromised key can be destroyed; it becomes Destroyed Compromised.
        self.client.destroy(uid)
        self.assertEqual(self.state(uid), ST.DESTROYED_COMPROMISED)

    def test_destroy_pre_active(self):
        uid = self.create_aes(self.unique_name())
        self.client.destroy(uid)
        self.assertEqual(self.state(uid), ST.DESTROYED)

    def test_rekey(self):
        name = self.unique_name()
        old = self.create_aes(name)
        self.client.activate(old)
        old_value = self.client.get(old).value
        new = self.client.rekey(uid=old)
        self.assertNotEqual(new, old)
        new_key = self.client.get(new)
        self.assertEqual(new_key.object_type, OT.SYMMETRIC_KEY)
        self.assertEqual(new_key.cryptographic_algorithm, ALG.AES)
        self.assertEqual(len(new_key.value), 32)
        self.assertNotEqual(new_key.value, old_value)
        # The names move to the replacement, so Locate by name finds the current key (KMIP 1.x Re-key: the
        # existing key's Name attributes are removed).
        self.assertEqual(self.names(new), [name])
        self.assertEqual(self.names(old), [])
        self.assertEqual(self.client.locate(attributes=[self.name_attr(name)]), [new])
        # The replaced key keeps its state and its material: data encrypted under it must stay readable.
        self.assertEqual(self.state(old), ST.ACTIVE)
        self.assertEqual(self.client.get(old).value, old_value, "Re-key lost the replaced key's material")
        # Without an Offset the replacement copies the old key's dates (KMIP 1.4 section 4.4): rotating an
        # Active key gives an Active key, as storage arrays that check State after Re-key need.
        self.assertEqual(self.state(new), ST.ACTIVE)
        self.assertEqual(self.attrs(new, ["Activation Date"]), self.attrs(old, ["Activation Date"]))
        # With an Offset it is activated that long after now: Pre-Active until then. (One second of slack
        # below: the server's time(2) reads a coarse clock that may still show the second before ours.)
        before = int(time.time())
        later = self.client.rekey(uid=new, offset=3600)
        self.assertEqual(self.state(later), ST.PRE_ACTIVE)
        activation = self.attrs(later, ["Activation Date"])["Activation Date"][0]
        self.assertTrue(before - 1 + 3600 <= activation <= int(time.time()) + 3600, activation)

    def test_rekey_key_pair(self):
        old_public, old_private = self.client.create_key_pair(ALG.RSA, 2048, public_name=self.unique_name("-pub"),
                                                              private_name=self.unique_name("-priv"))
        self.client.activate(old_private)
        self.client.activate(old_public)
        old_value = self.client.get(old_private).value
        r = self.client.proxy.rekey_key_pair(private_key_uuid=cattributes.PrivateKeyUniqueIdentifier(old_private))
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS,
                         "%s %s" % (r.result_reason, r.result_message))
        self.assertNotIn(r.private_key_uuid, (old_public, old_private))
        self.assertNotIn(r.public_key_uuid, (old_public, old_private))
        private, public = self.client.get(r.private_key_uuid), self.client.get(r.public_key_uuid)
        sk = self.load_private(private.value, private.key_format_type)
        pk = self.load_public(public.value, public.key_format_type)
        self.assertEqual(sk.public_key().public_numbers(), pk.public_numbers())
        self.assertNotEqual(old_value, private.value)
        # The replaced pair keeps its material.
        self.assertEqual(self.client.get(old_private).value, old_value, "Re-key Key Pair lost the old private key")
        # An Active pair's replacement is Active, with the same Activation Dates (no Offset given).
        for new, old in ((r.private_key_uuid, old_private), (r.public_key_uuid, old_public)):
            self.assertEqual(self.state(new), ST.ACTIVE)
            self.assertEqual(self.attrs(new, ["Activation Date"]), self.attrs(old, ["Activation Date"]))
        self.assertEqual(len(self.client.get(old_public).value) > 0, True)

    # -- Locate -----------------------------------------------------------------------------------------------

    def test_locate(self):
        name = self.unique_name()
        uid = self.create_aes(name)
        other = self.create_aes(self.unique_name("-other"))
        secret = self.client.register(pobjects.SecretData(b"locate me", enums.SecretDataType.SEED,
                                                          name=self.unique_name("-secret")))
        # By name: exactly the one object, and nothing for a name no object has.
        self.assertEqual(self.client.locate(attributes=[self.name_attr(name)]), [uid])
        self.assertEqual(self.client.locate(attributes=[self.name_attr(name + "-nobody")]), [])
        # By object type.
        found = self.client.locate(attributes=[self.type_attr(OT.SECRET_DATA)])
        self.assertIn(secret, found)
        self.assertNotIn(uid, found)
        found = self.client.locate(attributes=[self.type_attr(OT.SYMMETRIC_KEY)])
        self.assertIn(uid, found)
        self.assertIn(other, found)
        self.assertNotIn(secret, found)
        # Every filter applies: the name with the wrong object type finds nothing.
        self.assertEqual(self.client.locate(attributes=[self.name_attr(name), self.type_attr(OT.PRIVATE_KEY)]), [])
        self.assertEqual(self.client.locate(attributes=[
            self.name_attr(name), self.type_attr(OT.SYMMETRIC_KEY),
            self.attr_factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, ALG.AES)]), [uid])
        # Maximum Items.
        found = self.client.locate(maximum_items=1, attributes=[self.type_attr(OT.SYMMETRIC_KEY)])
        self.assertEqual(len(found), 1)
        self.assertEqual(self.client.locate(maximum_items=1, attributes=[self.name_attr(name)]), [uid])

    # -- Errors, one or more per family ---------------------------------------------------------------------

    def test_error_unknown_identifier(self):
        missing = "no-such-object-%d" % os.getpid()
        self.assert_fails(self.not_found(), self.client.get, missing)
        self.assert_fails(self.not_found(), self.client.get_attributes, missing, ["State"])
        self.assert_fails(self.not_found(), self.client.get_attribute_list, missing)
        self.assert_fails(self.not_found(), self.client.activate, missing)
        self.assert_fails(self.not_found(), self.client.revoke, enums.RevocationReasonCode.UNSPECIFIED, missing)
        self.assert_fails(self.not_found(), self.client.destroy, missing)

    def test_error_destroy_active(self):
        uid = self.create_aes(self.unique_name())
        self.client.activate(uid)
        self.assert_fails(self.wrong_state(), self.client.destroy, uid)
        self.assertEqual(self.state(uid), ST.ACTIVE)
        self.assertEqual(len(self.client.get(uid).value), 32, "the refused Destroy removed the key")

    def test_error_activate_twice(self):
        uid = self.create_aes(self.unique_name())
        self.client.activate(uid)
        self.assert_fails(self.wrong_state(), self.client.activate, uid)

    def test_error_modify_activation_date_of_active_key(self):
        # OASIS SKLC-M-3-14 (Permission Denied) and SKLC-M-3-21 (Wrong Key Lifecycle State).
        uid = self.create_aes(self.unique_name())
        self.client.activate(uid)
        now = int(time.time())
        if self.v2:
            new = cobjects.NewAttribute(attribute=self.value_factory.create_attribute_value_by_enum(
                enums.Tags.ACTIVATION_DATE, now))
            self.assert_fails(self.wrong_state(), self.client.modify_attribute, uid, new_attribute=new)
        else:
            attr = self.attr_factory.create_attribute(enums.AttributeType.ACTIVATION_DATE, now)
            self.assert_fails(self.wrong_state(), self.client.modify_attribute, uid, attribute=attr)

    def test_error_get_unsupported_format(self):
        uid = self.create_aes(self.unique_name())
        r = self.get_as(uid, KFT.PKCS_1)
        self.assertEqual(r.result_status.value, enums.ResultStatus.OPERATION_FAILED)
        self.assertEqual(r.result_reason.value, RR.KEY_FORMAT_TYPE_NOT_SUPPORTED, str(r.result_message))

    # -- Area 5, multipart: Sign, Signature Verify (also in parts and of Digested Data), MAC (KMIP 1.2+) --------
    # PyKMIP 0.10's client has sign, signature_verify and mac but passes no Init/Final Indicator nor
    # Correlation Value; its SignatureVerifyRequestPayload has them, so the multi-part case sends that payload
    # through KMIPProxy.send_request_payload. Its Sign and MAC payloads have no such fields.

    def signing_pair(self):
        public_uid, private_uid = self.client.create_key_pair(
            ALG.RSA, 2048, public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
            private_usage_mask=[enums.CryptographicUsageMask.SIGN])
        self.client.activate(public_uid)
        self.client.activate(private_uid)
        pk = self.load_public(self.client.get(public_uid).value, KFT.PKCS_1)
        return public_uid, private_uid, pk

    def test_sign_verify_rsa(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        public_uid, private_uid, pk = self.signing_pair()
        msg = b"a message signed by kmipd for PyKMIP " * 20
        pss = {"cryptographic_algorithm": ALG.RSA, "padding_method": enums.PaddingMethod.PSS,
               "hashing_algorithm": enums.HashingAlgorithm.SHA_256}
        pkcs1 = {"cryptographic_algorithm": ALG.RSA, "padding_method": enums.PaddingMethod.PKCS1v15,
                 "hashing_algorithm": enums.HashingAlgorithm.SHA_256}
        sig = self.client.sign(msg, uid=private_uid, cryptographic_parameters=pss)
        pk.verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        self.assertEqual(self.client.signature_verify(msg, sig, uid=public_uid, cryptographic_parameters=pss),
                         enums.ValidityIndicator.VALID)
        self.assertEqual(self.client.signature_verify(msg + b"!", sig, uid=public_uid,
                                                      cryptographic_parameters=pss),
                         enums.ValidityIndicator.INVALID)
        sig = self.client.sign(msg, uid=private_uid, cryptographic_parameters=pkcs1)
        pk.verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())
        # A public key cannot sign: its usage mask says Verify.
        self.assert_fails(RR.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK if self.v2 else RR.PERMISSION_DENIED,
                          self.client.sign, msg, uid=public_uid, cryptographic_parameters=pkcs1)

    def test_signature_verify_in_parts(self):
        import hashlib
        public_uid, private_uid, pk = self.signing_pair()
        msg = bytes(range(256)) * 12
        params = {"cryptographic_algorithm": ALG.RSA, "padding_method": enums.PaddingMethod.PKCS1v15,
                  "hashing_algorithm": enums.HashingAlgorithm.SHA_256}
        sig = self.client.sign(msg, uid=private_uid, cryptographic_parameters=params)
        cp = self.client._build_cryptographic_parameters(params)
        op = enums.Operation.SIGNATURE_VERIFY
        parts = [msg[:1000], msg[1000:2000], msg[2000:]]
        for signature, want in ((sig, enums.ValidityIndicator.VALID),
                                (sig[:-1] + bytes([sig[-1] ^ 1]), enums.ValidityIndicator.INVALID)):
            r = self.send(op, payloads.SignatureVerifyRequestPayload(
                unique_identifier=public_uid, cryptographic_parameters=cp, data=parts[0], init_indicator=True,
                final_indicator=False))
            self.assertEqual(r.validity_indicator, enums.ValidityIndicator.UNKNOWN)
            corr = r.correlation_value
            self.assertTrue(corr, "no Correlation Value after the first part")
            r = self.send(op, payloads.SignatureVerifyRequestPayload(
                unique_identifier=public_uid, data=parts[1], correlation_value=corr, final_indicator=False))
            self.assertEqual(r.correlation_value, corr)
            r = self.send(op, payloads.SignatureVerifyRequestPayload(
                unique_identifier=public_uid, data=parts[2], signature_data=signature, correlation_value=corr,
                final_indicator=True))
            self.assertEqual(r.validity_indicator, want)
        # Finished: the Correlation Value names nothing now, nor does one never given.
        for c in (corr, b"\x01" * 16):
            self.assert_fails(RR.INVALID_CORRELATION_VALUE if self.v2 else RR.INVALID_FIELD,
                              self.client.proxy.send_request_payload, op, payloads.SignatureVerifyRequestPayload(
                                  unique_identifier=public_uid, data=b"x", signature_data=sig, correlation_value=c,
                                  final_indicator=True))
        # Digested Data: the SHA-256 digest verifies as the message; a digest of another length is refused.
        digest = hashlib.sha256(msg).digest()
        r = self.send(op, payloads.SignatureVerifyRequestPayload(
            unique_identifier=public_uid, cryptographic_parameters=cp, digested_data=digest, signature_data=sig))
        self.assertEqual(r.validity_indicator, enums.ValidityIndicator.VALID)
        self.assert_fails(RR.INVALID_FIELD, self.client.proxy.send_request_payload, op,
                          payloads.SignatureVerifyRequestPayload(unique_identifier=public_uid,
                                                                 cryptographic_parameters=cp,
                                                                 digested_data=digest[:20], signature_data=sig))

    def test_mac_hmac(self):
        import hashlib
        import hmac
        uid = self.client.create(ALG.HMAC_SHA256, 256, cryptographic_usage_mask=[
            enums.CryptographicUsageMask.MAC_GENERATE, enums.CryptographicUsageMask.MAC_VERIFY])
        self.client.activate(uid)
        key = self.client.get(uid).value
        data = b"data to authenticate" * 10
        rid, mac = self.client.mac(data, uid=uid, algorithm=ALG.HMAC_SHA256)
        self.assertEqual(rid, uid)
        self.assertEqual(mac, hmac.new(key, data, hashlib.sha256).digest())
        # An AES key made for encryption is no MAC key.
        aes = self.create_aes(self.unique_name())
        self.client.activate(aes)
        self.assert_fails(RR.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK if self.v2 else RR.PERMISSION_DENIED,
                          self.client.mac, data, uid=aes, algorithm=ALG.HMAC_SHA256)

    # -- objcreate: Create of every random-bytes algorithm and of Secret Data, Sensitive and Extractable ---------

    def create_with(self, object_type, attrs):
        """Create through KMIPProxy with the given attributes (PyKMIP's client.create takes only a few);
        returns the identifier, or raises KmipOperationFailure as client.create does."""
        template = cobjects.TemplateAttribute(attributes=[self.attr_factory.create_attribute(t, v)
                                                          for t, v in attrs])
        r = self.client.proxy.create(object_type, template)
        if r.result_status.value != enums.ResultStatus.SUCCESS:
            raise pie_exceptions.KmipOperationFailure(r.result_status.value, r.result_reason.value,
                                                      r.result_message.value)
        return r.uuid

    def test_objcreate_each_algorithm(self):
        # Algorithm, length, key bytes: every random-bytes algorithm PyKMIP's enumeration has but Triple DES,
        # whose 168-bit key in 24 bytes (KMIP's test cases) PyKMIP's SymmetricKey refuses to build.
        cases = [(ALG.DES, 64, 8), (ALG.BLOWFISH, 448, 56), (ALG.BLOWFISH, 32, 4),
                 (ALG.CAMELLIA, 192, 24), (ALG.CAST5, 40, 5), (ALG.IDEA, 128, 16), (ALG.MARS, 160, 20),
                 (ALG.RC2, 1024, 128), (ALG.RC4, 2048, 256), (ALG.RC5, 128, 16), (ALG.SKIPJACK, 80, 10),
                 (ALG.TWOFISH, 256, 32), (ALG.ONE_TIME_PAD, 4096, 512), (ALG.CHACHA20, 256, 32),
                 (ALG.POLY1305, 256, 32), (ALG.CHACHA20_POLY1305, 256, 32), (ALG.HMAC_MD5, 128, 16),
                 (ALG.HMAC_SHA3_256, 256, 32), (ALG.HMAC_SHA512, 4096, 512), (ALG.ARIA, 128, 16),
                 (ALG.SEED, 128, 16), (ALG.SM4, 128, 16), (ALG.GOST_28147_89, 256, 32)]
        for alg, length, size in cases:
            uid = self.client.create(alg, length, name=self.unique_name(alg.name))
            key = self.client.get(uid)
            self.assertIsInstance(key, pobjects.SymmetricKey)
            self.assertEqual(key.cryptographic_algorithm, alg)
            self.assertEqual(key.cryptographic_length, length, alg.name)
            self.assertEqual(len(key.value), size, alg.name)

    def test_objcreate_refused(self):
        # Lengths an algorithm does not have, and algorithms whose keys are not random bytes.
        for alg, length in [(ALG.AES, 100), (ALG.CAMELLIA, 64), (ALG.SEED, 256), (ALG.BLOWFISH, 456),
                            (ALG.HMAC_SHA256, 4104), (ALG.RSA, 2048), (ALG.EC, 256), (ALG.SHA3_256, 256)]:
            self.assert_fails(RR.INVALID_FIELD, self.client.create, alg, length)

    def test_objcreate_secret_data(self):
        uid = self.create_with(OT.SECRET_DATA, [(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 128)])
        secret = self.client.get(uid)
        self.assertIsInstance(secret, pobjects.SecretData)
        self.assertEqual(secret.data_type, enums.SecretDataType.SEED)
        self.assertEqual(len(secret.value), 16)
        self.assertEqual(len(self.client.get(self.create_with(OT.SECRET_DATA, [])).value), 32)
        self.assert_fails(RR.INVALID_FIELD, self.create_with, OT.SECRET_DATA,
                          [(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 12)])

    def test_objcreate_sensitive(self):
        # KMIP 1.4 added the Sensitive Result Reason; older versions get Permission Denied.
        uid = self.create_with(OT.SYMMETRIC_KEY, [(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, ALG.AES),
                                                  (enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
                                                  (enums.AttributeType.SENSITIVE, True)])
        self.assert_fails(RR.SENSITIVE if self.VERSION >= V.KMIP_1_4 else RR.PERMISSION_DENIED,
                          self.client.get, uid)
        self.assertEqual(self.attrs(uid, ["Cryptographic Length"])["Cryptographic Length"], [256])

    # -- Area 2 (register): keys as clients send them, wrapped keys ----------------------------------------

    def test_register_mislabelled_rsa(self):
        # PKCS#1 bytes declared PKCS#8, a SubjectPublicKeyInfo declared PKCS#1: kept and given back as
        # registered, converted when a format is asked.
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        spki = k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        name = self.unique_name()
        private_uid = self.client.register(pobjects.PrivateKey(ALG.RSA, 2048, MATERIAL.rsa_private_pkcs1,
                                                               KFT.PKCS_8, name=name + "-priv"))
        public_uid = self.client.register(pobjects.PublicKey(ALG.RSA, 2048, spki, KFT.PKCS_1, name=name + "-pub"))
        private = self.client.get(private_uid)
        public = self.client.get(public_uid)
        self.assertEqual(private.key_format_type, KFT.PKCS_8)
        self.assertEqual(private.value, MATERIAL.rsa_private_pkcs1)
        self.assertEqual(public.key_format_type, KFT.PKCS_1)
        self.assertEqual(public.value, spki)
        r = self.get_as(public_uid, KFT.X_509)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        self.assertEqual(r.secret.key_block.key_value.key_material.value, spki)
        r = self.get_as(private_uid, KFT.PKCS_1)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        self.assertEqual(r.secret.key_block.key_value.key_material.value, MATERIAL.rsa_private_pkcs1)

    def test_register_raw_ec_public_key(self):
        from cryptography.hazmat.primitives.asymmetric import ec
        point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        uid = self.client.register(pobjects.PublicKey(ALG.ECDSA, 256, point, KFT.RAW, name=self.unique_name()))
        key = self.client.get(uid)
        self.assertEqual(key.key_format_type, KFT.RAW)
        self.assertEqual(key.value, point)
        # Bytes that are no point of a curve are refused.
        self.assert_fails(RR.INVALID_FIELD, self.client.register,
                          pobjects.PublicKey(ALG.ECDSA, 256, b"\x04" + bytes(64), KFT.RAW))

    def test_register_wrapped_key(self):
        # PyKMIP sends a wrapped key's bytes as the Key Material of a Key Value structure; kmipd keeps them
        # and the Key Wrapping Data, and gives them back as registered.
        wrapped = bytes(range(40))
        kwd = {"wrapping_method": enums.WrappingMethod.ENCRYPT,
               "encryption_key_information": {"unique_identifier": "key-kmipd-does-not-hold",
                                              "cryptographic_parameters": {
                                                  "block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}}}
        uid = self.client.register(pobjects.SymmetricKey(ALG.AES, 256, wrapped, name=self.unique_name(),
                                                         key_wrapping_data=kwd))
        key = self.client.get(uid)
        self.assertEqual(key.value, wrapped)
        self.assertEqual(key.key_wrapping_data.get("wrapping_method"), enums.WrappingMethod.ENCRYPT)
        self.assertEqual(key.key_wrapping_data["encryption_key_information"]["unique_identifier"],
                         "key-kmipd-does-not-hold")
        # kmipd cannot unwrap it to wrap it again.
        self.assert_fails(RR.KEY_WRAP_TYPE_NOT_SUPPORTED if self.v2 else RR.FEATURE_NOT_SUPPORTED,
                          self.client.get, uid, key_wrapping_specification={
                              "wrapping_method": enums.WrappingMethod.ENCRYPT,
                              "encryption_key_information": {"unique_identifier": "another-key"}})

    def test_get_wrapped_compat(self):
        # compat.wrapped_key_value_structure: a key Get wraps comes as PyKMIP reads it; unwrapped here, it
        # is the key.
        from cryptography.hazmat.primitives import keywrap
        server = Kmipd(MATERIAL, extra=["compat.wrapped_key_value_structure=true"])
        server.start()
        try:
            c = ProxyKmipClient(hostname="127.0.0.1", port=server.port, cert=MATERIAL.cert("client.crt"),
                                key=MATERIAL.cert("client.key"), ca=MATERIAL.cert("ca.crt"),
                                ssl_version="PROTOCOL_SSLv23", config_file=MATERIAL.client_conf,
                                kmip_version=self.VERSION)
            c.open()
            try:
                kek = c.create(ALG.AES, 256, cryptographic_usage_mask=[enums.CryptographicUsageMask.WRAP_KEY,
                                                                       enums.CryptographicUsageMask.ENCRYPT])
                c.activate(kek)
                uid = c.create(ALG.AES, 256, cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT])
                key = c.get(uid, key_wrapping_specification={
                    "wrapping_method": enums.WrappingMethod.ENCRYPT,
                    "encryption_key_information": {"unique_identifier": kek, "cryptographic_parameters": {
                        "block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}},
                    "encoding_option": enums.EncodingOption.NO_ENCODING})
                self.assertEqual(key.key_wrapping_data["encryption_key_information"]["unique_identifier"], kek)
                plain = keywrap.aes_key_unwrap(c.get(kek).value, key.value)
                self.assertEqual(plain, c.get(uid).value)
            finally:
                c.close()
        finally:
            self.assertEqual(server.stop(), 0)
            server.remove()

    # -- locq (issue 16, area 6): Locate paging and Query's descriptions of the server ---------------------
    # PyKMIP 0.10 cannot receive an Obtain Lease response (its payload factory has none): leases are tested
    # with kmipd's own client in test_query.

    def test_locq_locate_paging(self):
        # Three keys of one name, newest first; Offset Items (KMIP 1.3 and later) skips from the front of that
        # order, Maximum Items trims it, and a page past the end is empty.
        name = self.unique_name()
        newest_first = list(reversed([self.create_aes(name) for _ in range(3)]))
        attrs = [self.name_attr(name)]
        self.assertEqual(self.client.locate(attributes=attrs), newest_first)
        self.assertEqual(self.client.locate(maximum_items=2, attributes=attrs), newest_first[:2])
        if self.VERSION < V.KMIP_1_3:
            return
        self.assertEqual(self.client.locate(offset_items=1, maximum_items=1, attributes=attrs), newest_first[1:2])
        self.assertEqual(self.client.locate(offset_items=2, attributes=attrs), newest_first[2:])
        self.assertEqual(self.client.locate(offset_items=3, maximum_items=5, attributes=attrs), [])
        # Located Items counts every match of a page; Maximum Items alone is not paging and gets none.
        page = self.send(enums.Operation.LOCATE, payloads.LocateRequestPayload(
            offset_items=1, maximum_items=1, attributes=attrs))
        self.assertEqual(page.located_items, 3)
        self.assertEqual(page.unique_identifiers, newest_first[1:2])
        trimmed = self.send(enums.Operation.LOCATE, payloads.LocateRequestPayload(
            maximum_items=1, attributes=attrs))
        self.assertIsNone(trimmed.located_items)

    def test_locq_query_details(self):
        # What came with KMIP 1.3 (RNGs, Profiles, Validations, Capabilities, Client Registration Methods),
        # answered truthfully; none of it to an older client, who asked all the same.
        q = enums.QueryFunction
        functions = [q.QUERY_RNGS, q.QUERY_PROFILES, q.QUERY_VALIDATIONS, q.QUERY_CAPABILITIES,
                     q.QUERY_CLIENT_REGISTRATION_METHODS, q.QUERY_ATTESTATION_TYPES, q.QUERY_EXTENSION_LIST,
                     q.QUERY_EXTENSION_MAP, q.QUERY_APPLICATION_NAMESPACES]
        # Not Query Defaults Information: kmipd's defaults are Sensitive and Extractable, which PyKMIP 0.10
        # cannot decode inside Object Defaults (test_query checks them).
        r = self.send(enums.Operation.QUERY, payloads.QueryRequestPayload(query_functions=functions))
        # kmipd has no extensions, attestation, validations or namespaces: none listed.
        self.assertFalse(r.extension_information)
        self.assertFalse(r.attestation_types)
        self.assertFalse(r.application_namespaces)
        if self.VERSION < V.KMIP_1_3:
            return
        self.assertFalse(r.validation_information)
        self.assertEqual(len(r.rng_parameters), 1)
        self.assertEqual(r.rng_parameters[0].rng_algorithm, enums.RNGAlgorithm.DRBG)
        self.assertEqual(r.rng_parameters[0].drbg_algorithm, enums.DRBGAlgorithm.CTR)
        profiles = {p.profile_name for p in r.profile_information}
        if self.v2:
            self.assertIn(enums.ProfileName.SYMMETRIC_KEY_LIFECYCLE_SERVER, profiles)
        elif self.VERSION == V.KMIP_1_4:
            self.assertIn(enums.ProfileName.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIPv14, profiles)
        else:
            self.assertIn(enums.ProfileName.SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIPv13, profiles)
        # This server grants no leases (server.lease_time 0): the Foundry profile, whose cases list a Lease
        # Time, is not claimed.
        self.assertFalse(any("FOUNDRY_SERVER" in p.name for p in profiles), profiles)
        self.assertEqual(len(r.capability_information), 1)
        cap = r.capability_information[0]
        self.assertTrue(cap.streaming_capability)
        self.assertFalse(cap.asynchronous_capability)
        self.assertFalse(cap.attestation_capability)
        if self.VERSION >= V.KMIP_1_4:
            # PyKMIP 0.10 reads Batch Undo Capability into batch_continue_capability (then Batch Continue over
            # it): only that one can be seen, and both are true. test_query checks Batch Undo itself.
            self.assertTrue(cap.batch_continue_capability)
        self.assertEqual(cap.destroy_action, enums.DestroyAction.KEY_MATERIAL_DELETED)
        self.assertEqual(r.client_registration_methods, [enums.ClientRegistrationMethod.CLIENT_GENERATED])


    # -- area 4 (derive): Derive Key, DSA keys ------------------------------------------------------------------

    def derive_source(self, obj):
        """Registers obj (a pie object) for Derive Key use and activates it; returns its identifier."""
        obj.cryptographic_usage_masks = [enums.CryptographicUsageMask.DERIVE_KEY]
        uid = self.client.register(obj)
        self.client.activate(uid)
        return uid

    def test_derive_key_hmac(self):
        key = bytes(range(32))
        src = self.derive_source(pobjects.SymmetricKey(ALG.AES, 256, key, name=self.unique_name()))
        uid = self.client.derive_key(
            OT.SYMMETRIC_KEY, [src], enums.DerivationMethod.HMAC,
            {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
             "derivation_data": b"label and context"},
            cryptographic_algorithm=ALG.AES, cryptographic_length=128)
        derived = self.client.get(uid)
        self.assertEqual(derived.cryptographic_algorithm, ALG.AES)
        self.assertEqual(derived.cryptographic_length, 128)
        self.assertEqual(derived.value, hmac.new(key, b"label and context", hashlib.sha256).digest()[:16])

    def test_derive_key_pbkdf2_secret_data(self):
        password = b"correct horse battery staple"
        src = self.derive_source(pobjects.SecretData(password, enums.SecretDataType.PASSWORD,
                                                     name=self.unique_name()))
        uid = self.client.derive_key(
            OT.SECRET_DATA, [src], enums.DerivationMethod.PBKDF2,
            {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_512},
             "salt": b"NaCl", "iteration_count": 4096},
            cryptographic_length=256)
        derived = self.client.get(uid)
        self.assertIsInstance(derived, pobjects.SecretData)
        self.assertEqual(derived.value, hashlib.pbkdf2_hmac("sha512", password, b"NaCl", 4096, 32))

    def test_derive_key_nist800_108_counter(self):
        key = bytes(range(100, 132))
        fixed = b"kmipd fixed input"
        src = self.derive_source(pobjects.SymmetricKey(ALG.AES, 256, key, name=self.unique_name()))
        uid = self.client.derive_key(
            OT.SYMMETRIC_KEY, [src], enums.DerivationMethod.NIST800_108_C,
            {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
             "derivation_data": fixed},
            cryptographic_algorithm=ALG.AES, cryptographic_length=256)
        # SP 800-108 counter mode, HMAC-SHA256, a 32-bit counter before the fixed input: one block here.
        want = hmac.new(key, (1).to_bytes(4, "big") + fixed, hashlib.sha256).digest()
        self.assertEqual(self.client.get(uid).value, want)

    def test_derive_key_errors(self):
        key = bytes(range(32))
        plain = self.client.register(pobjects.SymmetricKey(ALG.AES, 256, key, name=self.unique_name(),
                                                           masks=[enums.CryptographicUsageMask.ENCRYPT]))
        self.client.activate(plain)
        params = {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
                  "derivation_data": b"x"}
        mask = RR.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK if self.v2 else RR.PERMISSION_DENIED
        self.assert_fails(mask, self.client.derive_key, OT.SYMMETRIC_KEY, [plain], enums.DerivationMethod.HMAC,
                          params, cryptographic_algorithm=ALG.AES, cryptographic_length=128)
        src = self.derive_source(pobjects.SymmetricKey(ALG.AES, 256, key, name=self.unique_name()))
        # kmipd's default server.max_derive_iterations is 1000000.
        limit = RR.SERVER_LIMIT_EXCEEDED if self.v2 else RR.PERMISSION_DENIED
        e = self.assert_fails(limit, self.client.derive_key, OT.SYMMETRIC_KEY, [src],
                              enums.DerivationMethod.PBKDF2, {"salt": b"s", "iteration_count": 1000001},
                              cryptographic_algorithm=ALG.AES, cryptographic_length=128)
        self.assertIn("server.max_derive_iterations", str(e))
        # One HMAC-SHA256 gives 256 bits, not 512.
        e = self.assert_fails(RR.INVALID_FIELD, self.client.derive_key, OT.SYMMETRIC_KEY, [src],
                              enums.DerivationMethod.HMAC, params, cryptographic_algorithm=ALG.HMAC_SHA512,
                              cryptographic_length=512)
        self.assertIn("longer than this method's output", str(e))
        self.assert_fails(self.not_found(), self.client.derive_key, OT.SYMMETRIC_KEY, ["no-such-key"],
                          enums.DerivationMethod.HMAC, params, cryptographic_algorithm=ALG.AES,
                          cryptographic_length=128)

    def dsa_pair(self):
        name = self.unique_name()
        public_uid, private_uid = self.client.create_key_pair(
            ALG.DSA, 2048, public_name=name + "-pub", private_name=name + "-priv",
            public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
            private_usage_mask=[enums.CryptographicUsageMask.SIGN])
        return public_uid, private_uid

    def test_create_key_pair_dsa(self):
        public_uid, private_uid = self.dsa_pair()
        r = self.get_as(private_uid, KFT.PKCS_8)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        sk = serialization.load_der_private_key(r.secret.key_block.key_value.key_material.value, password=None)
        self.assertIsInstance(sk, dsa.DSAPrivateKey)
        self.assertEqual(sk.key_size, 2048)
        r = self.get_as(public_uid, KFT.X_509)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        pk = serialization.load_der_public_key(r.secret.key_block.key_value.key_material.value)
        self.assertEqual(sk.public_key().public_numbers(), pk.public_numbers(), "the two halves do not match")
        self.assertEqual(self.attrs(private_uid, ["Cryptographic Algorithm"])["Cryptographic Algorithm"],
                         [ALG.DSA])
        # A DSA key has no PKCS#1 form.
        r = self.get_as(private_uid, KFT.PKCS_1)
        self.assertEqual(r.result_reason.value, RR.KEY_FORMAT_TYPE_NOT_SUPPORTED, str(r.result_message))

    def test_dsa_sign_verify(self):
        public_uid, private_uid = self.dsa_pair()
        self.client.activate(private_uid)
        self.client.activate(public_uid)
        params = {"digital_signature_algorithm": enums.DigitalSignatureAlgorithm.DSA_WITH_SHA256}
        message = b"signed with DSA by kmipd"
        signature = self.client.sign(message, uid=private_uid, cryptographic_parameters=params)
        self.assertEqual(self.client.signature_verify(message, signature, uid=public_uid,
                                                      cryptographic_parameters=params),
                         enums.ValidityIndicator.VALID)
        self.assertEqual(self.client.signature_verify(message + b"!", signature, uid=public_uid,
                                                      cryptographic_parameters=params),
                         enums.ValidityIndicator.INVALID)
        r = self.get_as(public_uid, KFT.X_509)
        pk = serialization.load_der_public_key(r.secret.key_block.key_value.key_material.value)
        pk.verify(signature, message, hashes.SHA256())


    # -- Area 3 (split): the Split Key object (Register, Get, Locate, Destroy) and Get as PKCS#12 -------------
    # PyKMIP 0.10 has no Create Split Key or Join Split Key payloads (its payload factory raises
    # NotImplementedError for both): test/integration/test_split.c runs those through kmipd's own client.

    def split_key(self, parts, part, threshold, method, value, prime=None):
        return pobjects.SplitKey(cryptographic_algorithm=ALG.AES, cryptographic_length=128, key_value=value,
                                 cryptographic_usage_masks=[enums.CryptographicUsageMask.ENCRYPT],
                                 name=self.unique_name(), split_key_parts=parts, key_part_identifier=part,
                                 split_key_threshold=threshold, split_key_method=method, prime_field_size=prime)

    def test_split_key_register_get(self):
        M = enums.SplitKeyMethod
        uid = None
        for method, threshold, prime, value in (
                (M.XOR, 3, None, os.urandom(16)),
                (M.POLYNOMIAL_SHARING_GF_2_16, 2, None, os.urandom(16)),
                (M.POLYNOMIAL_SHARING_PRIME_FIELD, 2, 2 ** 130 - 5, b"\x01" + os.urandom(16))):
            uid = self.client.register(self.split_key(3, 2, threshold, method, value, prime))
            got = self.client.get(uid)
            self.assertIsInstance(got, pobjects.SplitKey)
            self.assertEqual(got.value, value)
            self.assertEqual((got.split_key_parts, got.key_part_identifier, got.split_key_threshold,
                              got.split_key_method, got.prime_field_size), (3, 2, threshold, method, prime))
            self.assertEqual((got.cryptographic_algorithm, got.cryptographic_length), (ALG.AES, 128))
            self.assertEqual(got.key_format_type, KFT.RAW)
        self.assertIn(uid, self.client.locate(attributes=[self.type_attr(OT.SPLIT_KEY)]))
        self.assertNotIn(uid, self.client.locate(attributes=[self.type_attr(OT.SYMMETRIC_KEY)]))
        self.client.destroy(uid)
        self.assert_fails(RR.OBJECT_DESTROYED if self.v2 else RR.ITEM_NOT_FOUND, self.client.get, uid)

    def test_split_key_register_invalid(self):
        M = enums.SplitKeyMethod
        value = os.urandom(16)
        # The last part is accepted (Key Part Identifier = Split Key Parts)...
        self.assertTrue(self.client.register(self.split_key(3, 3, 2, M.POLYNOMIAL_SHARING_GF_2_8, value)))
        # ... but not a Key Part Identifier above Split Key Parts; XOR with a threshold below the parts; a threshold of
        # 1; a Prime Field Size that is not prime (2^130 - 4).
        for key in (self.split_key(3, 4, 2, M.POLYNOMIAL_SHARING_GF_2_8, value),
                    self.split_key(3, 1, 2, M.XOR, value),
                    self.split_key(3, 1, 1, M.POLYNOMIAL_SHARING_GF_2_8, value),
                    self.split_key(3, 1, 2, M.POLYNOMIAL_SHARING_PRIME_FIELD, value, 2 ** 130 - 4)):
            self.assert_fails(RR.INVALID_FIELD, self.client.register, key)

    def pkcs12_material(self):
        """The test client's key (PKCS#8 DER) and public key (SPKI), certificate and CA certificate (DER), from
        etc/mkcerts.sh."""
        from cryptography import x509
        with open(MATERIAL.cert("client.key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        der = [key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()),
               key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)]
        for name in ("client.crt", "ca.crt"):
            with open(MATERIAL.cert(name), "rb") as f:
                der.append(x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER))
        return der

    def test_pkcs12_missing_links(self):
        key_der, _, cert_der, _ = self.pkcs12_material()
        uid = self.client.register(pobjects.PrivateKey(ALG.RSA, 2048, key_der, KFT.PKCS_8,
                                                       masks=[enums.CryptographicUsageMask.SIGN]))
        r = self.get_as(uid, KFT.PKCS_12)
        self.assertEqual(r.result_status.value, enums.ResultStatus.OPERATION_FAILED)
        self.assertEqual(r.result_reason.value, RR.MISSING_DATA, str(r.result_message))
        # A symmetric key has no PKCS#12 form.
        r = self.get_as(self.create_aes(), KFT.PKCS_12)
        self.assertEqual(r.result_reason.value, RR.KEY_FORMAT_TYPE_NOT_SUPPORTED, str(r.result_message))

    def test_pkcs12_get(self):
        # 2.0 only: the links are added with Add Attribute, whose 1.x response echoes the Link, which PyKMIP's
        # attribute value factory cannot decode (NotImplementedError).
        from cryptography.hazmat.primitives.serialization import pkcs12
        # Linked as KMIP 2.1's Get says: key -> public key -> its certificate -> the CA's; key -> password.
        key_der, pub_der, cert_der, ca_der = self.pkcs12_material()
        password = b"pykmip pkcs12 password"
        ca = self.client.register(pobjects.X509Certificate(ca_der))
        cert = self.client.register(pobjects.X509Certificate(cert_der))
        secret = self.client.register(pobjects.SecretData(password, enums.SecretDataType.PASSWORD))
        key = self.client.register(pobjects.PrivateKey(ALG.RSA, 2048, key_der, KFT.PKCS_8,
                                                       masks=[enums.CryptographicUsageMask.SIGN]))
        pub = self.client.register(pobjects.PublicKey(ALG.RSA, 2048, pub_der, KFT.X_509,
                                                      masks=[enums.CryptographicUsageMask.VERIFY]))
        for uid, link_type, target in ((cert, enums.LinkType.CERTIFICATE_LINK, ca),
                                       (pub, enums.LinkType.PKCS12_CERTIFICATE_LINK, cert),
                                       (key, enums.LinkType.PUBLIC_KEY_LINK, pub),
                                       (key, enums.LinkType.PKCS12_PASSWORD_LINK, secret)):
            new = cobjects.NewAttribute(attribute=LinkValue(link_type, target))
            response = self.client.proxy.send_request_payload(enums.Operation.ADD_ATTRIBUTE,
                                                              AddAttributeRequestPayload(uid, new_attribute=new))
            self.assertEqual(response.unique_identifier, uid)
        r = self.get_as(key, KFT.PKCS_12)
        self.assertEqual(r.result_status.value, enums.ResultStatus.SUCCESS, str(r.result_message))
        block = r.secret.key_block
        self.assertEqual(block.key_format_type.value, KFT.PKCS_12)
        p12 = block.key_value.key_material.value
        got_key, got_cert, got_chain = pkcs12.load_key_and_certificates(p12, password)
        self.assertEqual(got_cert.public_bytes(serialization.Encoding.DER), cert_der)
        self.assertEqual([c.public_bytes(serialization.Encoding.DER) for c in got_chain], [ca_der])
        self.assertEqual(got_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), key_der)
        with self.assertRaises(ValueError):
            pkcs12.load_key_and_certificates(p12, b"not the password")


# Which cases each version runs. Everything runs everywhere except where PyKMIP 0.10 cannot do it (see the
# module docstring): test_get_attributes_all needs a version whose every attribute PyKMIP can decode.
def cases_for(version):
    names = sorted(n for n in dir(LifecycleTests) if n.startswith("test_"))
    if version > V.KMIP_1_1:
        names.remove("test_get_attributes_all")
    # Sign, Signature Verify and MAC are KMIP 1.2 operations (areas 4 and 5).
    if version < V.KMIP_1_2:
        names = [n for n in names if n not in ("test_sign_verify_rsa", "test_signature_verify_in_parts",
                                               "test_mac_hmac", "test_dsa_sign_verify")]
    if version < V.KMIP_2_0:
        names.remove("test_pkcs12_get")  # links through Add Attribute: PyKMIP cannot read the 1.x echo
    return names


def version_tag(version):
    return version.name.lower()


CLASSES = [type(v.name.replace("_", ""), (LifecycleTests,), {"VERSION": v}) for v in VERSIONS]


# ---------------------------------------------------------------------------------------------------------------
# A small runner with cmocka's output.

class CaseResult(unittest.TestResult):
    """Collects one case's outcome; a skip counts as a failure, since no case may be skipped."""

    def __init__(self):
        super(CaseResult, self).__init__()
        self.problems = []

    def addError(self, test, err):
        self.problems.append(self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        self.problems.append(self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self.problems.append("skipped: %s" % reason)

    def addUnexpectedSuccess(self, test):
        self.problems.append("unexpected success")


def indent(text, prefix="    "):
    return "".join(prefix + line + "\n" for line in text.rstrip("\n").split("\n"))


def log_excerpt(server, offset):
    lines = server.text(offset).splitlines()
    if len(lines) > LOG_DUMP_LINES:
        lines = ["... (%d earlier lines)" % (len(lines) - LOG_DUMP_LINES)] + lines[-LOG_DUMP_LINES:]
    return "\n".join(lines)


def main(argv):
    global MATERIAL
    filters = argv[1:]
    plan = []
    for cls in CLASSES:
        cases = [n for n in cases_for(cls.VERSION)
                 if not filters or any(f in "%s.%s" % (version_tag(cls.VERSION), n[5:]) for f in filters)]
        if cases:
            plan.append((cls, cases))
    total = sum(len(c) for _, c in plan)
    # Announced count: the cases, plus the shutdown check of each version's server.
    print("[==========] Running %d test(s)." % (total + len(plan)), flush=True)
    failed = []
    passed = 0
    started = time.monotonic()
    try:
        MATERIAL = Material()
    except Exception:
        text = traceback.format_exc()
        for cls, cases in plan:
            for n in cases:
                full = "%s.%s" % (version_tag(cls.VERSION), n[5:])
                print("[ RUN      ] " + full)
                print(indent("test material: " + text), end="")
                print("[  FAILED  ] " + full)
                failed.append(full)
        plan = []
    for cls, cases in plan:
        setup_error = None
        try:
            cls.setUpClass()
        except Exception:
            setup_error = traceback.format_exc()
        for n in cases:
            full = "%s.%s" % (version_tag(cls.VERSION), n[5:])
            print("[ RUN      ] " + full, flush=True)
            problems = []
            offset = cls.server.size() if cls.server is not None else 0
            if setup_error is not None:
                problems.append("kmipd did not start: " + setup_error)
            elif not cls.server.alive():
                problems.append("kmipd is no longer running (status %s)" % cls.server.proc.returncode)
            else:
                r = CaseResult()
                cls(n).run(r)
                problems += r.problems
                if not cls.server.alive():
                    problems.append("kmipd exited during the case (status %s)" % cls.server.proc.returncode)
            if problems:
                for p in problems:
                    print(indent(p), end="")
                if cls.server is not None:
                    print("    --- kmipd log during %s (%s) ---" % (full, cls.server.log))
                    print(indent(log_excerpt(cls.server, offset)), end="")
                print("[  FAILED  ] " + full, flush=True)
                failed.append(full)
            else:
                if os.environ.get("KMIPD_TEST_SHOWLOG") and cls.server is not None:
                    print(indent(log_excerpt(cls.server, offset)), end="")
                print("[       OK ] " + full, flush=True)
                passed += 1
        if cls.server is not None and setup_error is not None:
            cls.server.stop()
        elif cls.server is not None:
            # One more case per version: the server stops cleanly on SIGTERM (exit status 0, which also
            # catches sanitizer reports in build-asan).
            full = "%s.shutdown" % version_tag(cls.VERSION)
            print("[ RUN      ] " + full, flush=True)
            offset = cls.server.size()
            status = cls.server.stop()
            if status == 0:
                print("[       OK ] " + full, flush=True)
                passed += 1
            else:
                print(indent("kmipd exited with status %s on SIGTERM" % status), end="")
                print(indent(log_excerpt(cls.server, offset)), end="")
                print("[  FAILED  ] " + full, flush=True)
                failed.append(full)
            total += 1
        if cls.server is not None:
            if not failed or os.environ.get("KMIPD_TEST_KEEP") is None:
                cls.server.remove()
            cls.server = None
    if MATERIAL is not None:
        MATERIAL.remove()
    print("[==========] %d test(s) run in %.1f s." % (total, time.monotonic() - started))
    print("[  PASSED  ] %d test(s)." % passed)
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for f in failed:
            print("[  FAILED  ] " + f)
        print("\n %d FAILED TEST(S)" % len(failed))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
