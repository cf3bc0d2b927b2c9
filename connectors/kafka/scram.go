package kafka

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
)

// scramMechanism is the client side of SASL SCRAM (RFC 5802) with
// SHA-256 or SHA-512, as Kafka brokers speak it.
type scramMechanism struct {
	newHash  func() hash.Hash
	name     string
	user     string
	password string
}

func newSCRAM(h func() hash.Hash, name, user, password string) (sasl.Mechanism, error) {
	if user == "" {
		return nil, errors.New("empty user name")
	}
	return &scramMechanism{newHash: h, name: name, user: user, password: password}, nil
}

func (m *scramMechanism) Name() string { return m.name }

// Start sends the client-first message.
func (m *scramMechanism) Start(context.Context) (sasl.StateMachine, []byte, error) {
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	st := &scramState{m: m, nonce: base64.RawStdEncoding.EncodeToString(nonce)}
	user := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(m.user)
	st.clientFirstBare = "n=" + user + ",r=" + st.nonce
	return st, []byte("n,," + st.clientFirstBare), nil
}

// scramState is one SCRAM exchange.
type scramState struct {
	m               *scramMechanism
	nonce           string
	clientFirstBare string
	serverSig       []byte
	step            int
}

func (st *scramState) hmac(key []byte, msg string) []byte {
	h := hmac.New(st.m.newHash, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Next answers the server-first message with the client proof, then checks
// the server's signature.
func (st *scramState) Next(_ context.Context, challenge []byte) (bool, []byte, error) {
	st.step++
	attrs := map[byte]string{}
	for _, kv := range strings.Split(string(challenge), ",") {
		if len(kv) >= 2 && kv[1] == '=' {
			attrs[kv[0]] = kv[2:]
		}
	}
	if e, ok := attrs['e']; ok {
		return false, nil, fmt.Errorf("SCRAM: the server refused: %s", e)
	}
	switch st.step {
	case 1:
		nonce, salt64, iter := attrs['r'], attrs['s'], attrs['i']
		if !strings.HasPrefix(nonce, st.nonce) {
			return false, nil, errors.New("SCRAM: the server's nonce does not extend ours")
		}
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil {
			return false, nil, errors.New("SCRAM: bad salt from the server")
		}
		n, err := strconv.Atoi(iter)
		if err != nil || n < 1 {
			return false, nil, errors.New("SCRAM: bad iteration count from the server")
		}
		salted, err := pbkdf2.Key(st.m.newHash, st.m.password, salt, n, st.m.newHash().Size())
		if err != nil {
			return false, nil, err
		}
		final := "c=biws,r=" + nonce
		authMsg := st.clientFirstBare + "," + string(challenge) + "," + final
		clientKey := st.hmac(salted, "Client Key")
		h := st.m.newHash()
		h.Write(clientKey)
		sig := st.hmac(h.Sum(nil), authMsg)
		proof := make([]byte, len(clientKey))
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		st.serverSig = st.hmac(st.hmac(salted, "Server Key"), authMsg)
		return false, []byte(final + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
	case 2:
		v, err := base64.StdEncoding.DecodeString(attrs['v'])
		if err != nil || !bytes.Equal(v, st.serverSig) {
			return false, nil, errors.New("SCRAM: the server's signature does not match")
		}
		return true, nil, nil
	}
	return false, nil, errors.New("SCRAM: unexpected message from the server")
}
