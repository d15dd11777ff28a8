package wire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// scramIterations is the PBKDF2 iteration count (Postgres' default).
const scramIterations = 4096

// scramVerifier holds the server's SCRAM-SHA-256 secrets for the password,
// derived once: the salt, the stored key and the server key (RFC 5802).
type scramVerifier struct {
	salt      []byte
	storedKey []byte
	serverKey []byte
}

func newSCRAMVerifier(password string) (*scramVerifier, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("wire: scram salt: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("wire: scram key derivation: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &scramVerifier{salt: salt, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// errBadPassword is an authentication failure (wrong proof).
var errBadPassword = errors.New("password authentication failed")

// scramExchange is one client's SCRAM conversation.
type scramExchange struct {
	v               *scramVerifier
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string
}

// first handles the client-first message and returns the server-first
// message.
func (x *scramExchange) first(msg []byte) ([]byte, error) {
	s := string(msg)
	// gs2-header: "n,," (no channel binding) or "y,," (client supports it
	// but thinks the server does not). "p=..." asks for channel binding,
	// which we do not offer.
	var rest string
	switch {
	case strings.HasPrefix(s, "n,"), strings.HasPrefix(s, "y,"):
		i := strings.IndexByte(s[2:], ',')
		if i < 0 {
			return nil, errors.New("malformed SCRAM client-first message")
		}
		x.gs2Header = s[:2+i+1]
		rest = s[2+i+1:]
	case strings.HasPrefix(s, "p="):
		return nil, errors.New("SCRAM channel binding is not supported")
	default:
		return nil, errors.New("malformed SCRAM client-first message")
	}
	x.clientFirstBare = rest
	var clientNonce string
	for _, attr := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			clientNonce = v
		}
	}
	if clientNonce == "" {
		return nil, errors.New("SCRAM client-first message has no nonce")
	}
	nb := make([]byte, 18)
	if _, err := rand.Read(nb); err != nil {
		return nil, err
	}
	x.nonce = clientNonce + base64.StdEncoding.EncodeToString(nb)
	x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(x.v.salt), scramIterations)
	return []byte(x.serverFirst), nil
}

// final checks the client-final message's proof and returns the
// server-final message.
func (x *scramExchange) final(msg []byte) ([]byte, error) {
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return nil, errors.New("SCRAM client-final message has no proof")
	}
	withoutProof, proofB64 := s[:i], s[i+3:]
	var binding, nonce string
	for _, attr := range strings.Split(withoutProof, ",") {
		if v, ok := strings.CutPrefix(attr, "c="); ok {
			binding = v
		} else if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	cb, err := base64.StdEncoding.DecodeString(binding)
	if err != nil || string(cb) != x.gs2Header {
		return nil, errors.New("SCRAM channel binding does not match")
	}
	if nonce != x.nonce {
		return nil, errors.New("SCRAM nonce does not match")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return nil, errors.New("malformed SCRAM proof")
	}
	authMsg := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	sig := hmacSHA256(x.v.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	for k := range proof {
		clientKey[k] = proof[k] ^ sig[k]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], x.v.storedKey) != 1 {
		return nil, errBadPassword
	}
	serverSig := hmacSHA256(x.v.serverKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}
