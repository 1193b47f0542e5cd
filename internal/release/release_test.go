package release

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func armored(t *testing.T, cfg *packet.Config) string {
	t.Helper()
	e, err := openpgp.NewEntity("release test", "", "release@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// HCP Terraform takes RSA and DSA signing keys; gpg's newer default (ed25519)
// must be refused before a publish, not by the registry half way through.
func TestParseKeyAlgorithms(t *testing.T) {
	k, err := ParseKey(armored(t, &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}))
	if err != nil {
		t.Fatalf("RSA key refused: %v", err)
	}
	if len(k.ID) != 16 || strings.ToUpper(k.ID) != k.ID {
		t.Errorf("key id %q: want 16 upper-case hex digits", k.ID)
	}
	_, err = ParseKey(armored(t, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}))
	if err == nil || !strings.Contains(err.Error(), "RSA or DSA") {
		t.Errorf("EdDSA key: err = %v, want a refusal naming RSA and DSA", err)
	}
	if _, err := ParseKey("-----BEGIN PGP PRIVATE KEY BLOCK-----\n"); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("private key: err = %v, want a refusal", err)
	}
}
