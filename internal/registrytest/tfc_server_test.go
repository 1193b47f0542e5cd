package registrytest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// tfc is a loopback HTTPS stand-in for the parts of HCP Terraform (and Terraform
// Enterprise) that publishing a private provider and installing it touch:
//
//   - the private registry API, as documented (registry-providers, gpg-keys,
//     provider versions and platforms): every request needs the bearer token; bodies
//     are JSON:API and checked for each field the documentation requires, with 422
//     and a JSON:API error otherwise; answers are JSON:API documents with the
//     documented attributes and upload/download links;
//   - the object store behind those links ("archivist"), which takes PUTs of the
//     release files; the links authorize themselves, so a token sent there is
//     counted as a leak;
//   - the provider registry protocol the CLI installs through (service discovery,
//     versions, download), which HCP Terraform also serves only with a token.
type tfc struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	// hostOverride is the host the stand-in is reached at when not srv's (TestStandIn).
	hostOverride string

	mu        sync.Mutex
	providers map[string]bool        // "<org>/<namespace>/<name>"
	keys      map[string]string      // "<namespace>/<KEY ID>" -> ascii armor
	versions  map[string]*tfcVersion // "<namespace>/<name>/<version>"
	objects   map[string][]byte      // archivist path -> uploaded bytes
	failPUT   map[string]int         // archivist path suffix -> PUTs to fail with 503
	log       []string               // "METHOD path" of every request
	writes    int                    // POSTs and PUTs that changed something
	leaks     int                    // archivist requests that carried a token
	problems  []string               // request checks that failed (also answered 4xx)
}

type tfcVersion struct {
	id, namespace, name, version, keyID string
	protocols                           []string
	platforms                           map[string]*tfcPlatform // "<os>_<arch>"
	order                               []string
}

type tfcPlatform struct {
	id, os, arch, shasum, filename string
}

// newTFC starts a stand-in that takes testToken.
func newTFC(t *testing.T, ca *testCA) *tfc {
	t.Helper()
	s := &tfc{t: t, token: testToken, providers: map[string]bool{}, keys: map[string]string{},
		versions: map[string]*tfcVersion{}, objects: map[string][]byte{}, failPUT: map[string]int{}}
	mux := http.NewServeMux()
	api := "/api/v2/organizations/{org}/registry-providers"
	mux.HandleFunc("GET /api/v2/ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("TFP-API-Version", "2.6")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+api, s.auth(s.createProvider))
	mux.HandleFunc("GET "+api+"/{registry}/{ns}/{name}", s.auth(s.readProvider))
	mux.HandleFunc("POST /api/registry/{registry}/v2/gpg-keys", s.auth(s.createKey))
	mux.HandleFunc("GET /api/registry/{registry}/v2/gpg-keys/{ns}/{keyid}", s.auth(s.readKey))
	mux.HandleFunc("POST "+api+"/{registry}/{ns}/{name}/versions", s.auth(s.createVersion))
	mux.HandleFunc("GET "+api+"/{registry}/{ns}/{name}/versions/{version}", s.auth(s.readVersion))
	mux.HandleFunc("POST "+api+"/{registry}/{ns}/{name}/versions/{version}/platforms", s.auth(s.createPlatform))
	mux.HandleFunc("GET "+api+"/{registry}/{ns}/{name}/versions/{version}/platforms", s.auth(s.listPlatforms))
	mux.HandleFunc("GET "+api+"/{registry}/{ns}/{name}/versions/{version}/platforms/{os}/{arch}", s.auth(s.readPlatform))
	mux.HandleFunc("PUT /_archivist/{path...}", s.putObject)
	mux.HandleFunc("GET /_archivist/{path...}", s.getObject)
	// The provider registry protocol, as HCP Terraform serves it for private providers.
	mux.HandleFunc("GET /.well-known/terraform.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"providers.v1": "/api/registry/v1/providers/", "tfe.v2": "/api/v2/"})
	})
	mux.HandleFunc("GET /api/registry/v1/providers/{ns}/{name}/versions", s.auth(s.protocolVersions))
	mux.HandleFunc("GET /api/registry/v1/providers/{ns}/{name}/{version}/download/{os}/{arch}", s.auth(s.protocolDownload))

	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}, MinVersion: tls.VersionTLS12}
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tfc) Host() string {
	if s.hostOverride != "" {
		return s.hostOverride
	}
	return s.srv.Listener.Addr().String()
}
func (s *tfc) base() string { return "https://" + s.Host() }

// counts returns what the stand-in counted so far.
func (s *tfc) counts() (writes, leaks int, problems []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes, s.leaks, slices.Clone(s.problems)
}

func (s *tfc) requested(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (s *tfc) auth(h func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			apiError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PathValue("registry") != "" && r.PathValue("registry") != "private" {
			s.problem(w, http.StatusForbidden, "registry_name must be private, got %q", r.PathValue("registry"))
			return
		}
		if org, ns := r.PathValue("org"), r.PathValue("ns"); org != "" && ns != "" && org != ns {
			s.problem(w, http.StatusUnprocessableEntity, "a private provider's namespace must be its organization: %q vs %q", ns, org)
			return
		}
		h(w, r)
	}
}

// problem records a failed check and answers it as a JSON:API error.
func (s *tfc) problem(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	apiError(w, status, msg)
}

func apiError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"status": fmt.Sprint(status), "title": http.StatusText(status), "detail": detail,
	}}})
}

func writeAPI(w http.ResponseWriter, status int, data any, extra map[string]any) {
	doc := map[string]any{"data": data}
	for k, v := range extra {
		doc[k] = v
	}
	w.Header().Set("Content-Type", "application/vnd.api+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
}

// body decodes a JSON:API request document and checks its type and required
// attributes. go-tfe sends an empty type for versions and platforms (its option
// structs have no type field), which HCP Terraform accepts; any other type than
// the documented one is refused.
func (s *tfc) body(w http.ResponseWriter, r *http.Request, typ string, required ...string) (map[string]any, bool) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/vnd.api+json" {
		s.problem(w, http.StatusUnsupportedMediaType, "%s %s: Content-Type %q, want application/vnd.api+json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		return nil, false
	}
	var doc struct {
		Data struct {
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		s.problem(w, http.StatusBadRequest, "%s: not JSON: %v", r.URL.Path, err)
		return nil, false
	}
	if doc.Data.Type != typ && doc.Data.Type != "" {
		s.problem(w, http.StatusUnprocessableEntity, "%s: data.type %q, want %q", r.URL.Path, doc.Data.Type, typ)
		return nil, false
	}
	for _, a := range required {
		v, ok := doc.Data.Attributes[a]
		if str, isStr := v.(string); !ok || v == nil || (isStr && str == "") {
			s.problem(w, http.StatusUnprocessableEntity, "%s: data.attributes.%s is required", r.URL.Path, a)
			return nil, false
		}
	}
	return doc.Data.Attributes, true
}

func str(m map[string]any, k string) string { v, _ := m[k].(string); return v }

func (s *tfc) providerDoc(org, ns, name string) map[string]any {
	return map[string]any{
		"id": "prov-" + ns + "-" + name, "type": "registry-providers",
		"attributes": map[string]any{
			"name": name, "namespace": ns, "registry-name": "private",
			"created-at": "2024-01-01T00:00:00.000Z", "updated-at": "2024-01-01T00:00:00.000Z",
			"permissions": map[string]any{"can-delete": true},
		},
		"relationships": map[string]any{"organization": map[string]any{"data": map[string]any{"id": org, "type": "organizations"}}},
	}
}

func (s *tfc) createProvider(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	a, ok := s.body(w, r, "registry-providers", "name", "namespace", "registry-name")
	if !ok {
		return
	}
	if str(a, "registry-name") != "private" || str(a, "namespace") != org {
		s.problem(w, http.StatusUnprocessableEntity, "a private provider needs registry-name private and namespace %q, got %v", org, a)
		return
	}
	key := org + "/" + org + "/" + str(a, "name")
	if s.providers[key] {
		s.problem(w, http.StatusUnprocessableEntity, "provider %s has already been taken", key)
		return
	}
	s.providers[key] = true
	s.writes++
	writeAPI(w, http.StatusCreated, s.providerDoc(org, org, str(a, "name")), nil)
}

func (s *tfc) readProvider(w http.ResponseWriter, r *http.Request) {
	org, ns, name := r.PathValue("org"), r.PathValue("ns"), r.PathValue("name")
	if !s.providers[org+"/"+ns+"/"+name] {
		apiError(w, http.StatusNotFound, "not found")
		return
	}
	writeAPI(w, http.StatusOK, s.providerDoc(org, ns, name), nil)
}

func keyDoc(ns, id, armor string) map[string]any {
	return map[string]any{
		"type": "gpg-keys", "id": ns + "-" + id,
		"attributes": map[string]any{
			"ascii-armor": armor, "key-id": id, "namespace": ns, "source": "", "source-url": nil,
			"trust-signature": "", "created-at": "2024-01-01T00:00:00Z", "updated-at": "2024-01-01T00:00:00Z",
		},
		"links": map[string]any{"self": "/v2/gpg-keys/" + ns + "-" + id},
	}
}

func (s *tfc) createKey(w http.ResponseWriter, r *http.Request) {
	a, ok := s.body(w, r, "gpg-keys", "namespace", "ascii-armor")
	if !ok {
		return
	}
	ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(str(a, "ascii-armor")))
	if err != nil || len(ring) != 1 {
		s.problem(w, http.StatusUnprocessableEntity, "ascii-armor is not one public key: %v", err)
		return
	}
	switch ring[0].PrimaryKey.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoDSA:
	default:
		s.problem(w, http.StatusUnprocessableEntity, "only RSA and DSA keys are accepted")
		return
	}
	ns, id := str(a, "namespace"), strings.ToUpper(ring[0].PrimaryKey.KeyIdString())
	if _, dup := s.keys[ns+"/"+id]; dup {
		s.problem(w, http.StatusUnprocessableEntity, "key %s has already been taken in %s", id, ns)
		return
	}
	s.keys[ns+"/"+id] = str(a, "ascii-armor")
	s.writes++
	writeAPI(w, http.StatusCreated, keyDoc(ns, id, str(a, "ascii-armor")), nil)
}

func (s *tfc) readKey(w http.ResponseWriter, r *http.Request) {
	ns, id := r.PathValue("ns"), r.PathValue("keyid")
	armor, ok := s.keys[ns+"/"+id]
	if !ok {
		apiError(w, http.StatusNotFound, "not found")
		return
	}
	writeAPI(w, http.StatusOK, keyDoc(ns, id, armor), nil)
}

var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func (s *tfc) archivist(v *tfcVersion, what string) string {
	return fmt.Sprintf("%s/_archivist/%s/%s/%s/%s", s.base(), v.namespace, v.name, v.version, what)
}

func (s *tfc) versionDoc(v *tfcVersion) map[string]any {
	_, sums := s.objects[s.archivistPath(v, "SHA256SUMS")]
	_, sig := s.objects[s.archivistPath(v, "SHA256SUMS.sig")]
	links := map[string]any{}
	if sums {
		links["shasums-download"] = s.archivist(v, "SHA256SUMS")
	} else {
		links["shasums-upload"] = s.archivist(v, "SHA256SUMS")
	}
	if sig {
		links["shasums-sig-download"] = s.archivist(v, "SHA256SUMS.sig")
	} else {
		links["shasums-sig-upload"] = s.archivist(v, "SHA256SUMS.sig")
	}
	var plats []any
	for _, k := range v.order {
		plats = append(plats, map[string]any{"id": v.platforms[k].id, "type": "registry-provider-platforms"})
	}
	return map[string]any{
		"id": v.id, "type": "registry-provider-versions",
		"attributes": map[string]any{
			"version": v.version, "key-id": v.keyID, "protocols": v.protocols,
			"created-at": "2024-01-01T00:00:00.000Z", "updated-at": "2024-01-01T00:00:00.000Z",
			"permissions":      map[string]any{"can-delete": true, "can-upload-asset": true},
			"shasums-uploaded": sums, "shasums-sig-uploaded": sig,
		},
		"relationships": map[string]any{
			"registry-provider": map[string]any{"data": map[string]any{"id": "prov-" + v.namespace + "-" + v.name, "type": "registry-providers"}},
			"platforms":         map[string]any{"data": plats},
		},
		"links": links,
	}
}

func (s *tfc) archivistPath(v *tfcVersion, what string) string {
	return fmt.Sprintf("/_archivist/%s/%s/%s/%s", v.namespace, v.name, v.version, what)
}

func (s *tfc) createVersion(w http.ResponseWriter, r *http.Request) {
	org, ns, name := r.PathValue("org"), r.PathValue("ns"), r.PathValue("name")
	if !s.providers[org+"/"+ns+"/"+name] {
		apiError(w, http.StatusNotFound, "provider not found")
		return
	}
	a, ok := s.body(w, r, "registry-provider-versions", "version", "key-id", "protocols")
	if !ok {
		return
	}
	version, keyID := str(a, "version"), str(a, "key-id")
	if !semver.MatchString(version) {
		s.problem(w, http.StatusUnprocessableEntity, "version %q is not semver", version)
		return
	}
	if _, ok := s.keys[ns+"/"+keyID]; !ok {
		s.problem(w, http.StatusUnprocessableEntity, "key-id %q is not a GPG key of namespace %s", keyID, ns)
		return
	}
	raw, _ := a["protocols"].([]any)
	var protocols []string
	for _, p := range raw {
		ps, _ := p.(string)
		if ps != "4.0" && ps != "5.0" && ps != "6.0" {
			s.problem(w, http.StatusUnprocessableEntity, "protocols must be among 4.0, 5.0, 6.0; got %v", raw)
			return
		}
		protocols = append(protocols, ps)
	}
	if len(protocols) == 0 {
		s.problem(w, http.StatusUnprocessableEntity, "protocols must not be empty")
		return
	}
	k := ns + "/" + name + "/" + version
	if _, dup := s.versions[k]; dup {
		s.problem(w, http.StatusUnprocessableEntity, "version %s has already been taken", version)
		return
	}
	v := &tfcVersion{id: "provver-" + version, namespace: ns, name: name, version: version, keyID: keyID,
		protocols: protocols, platforms: map[string]*tfcPlatform{}}
	s.versions[k] = v
	s.writes++
	writeAPI(w, http.StatusCreated, s.versionDoc(v), nil)
}

func (s *tfc) version(w http.ResponseWriter, r *http.Request) *tfcVersion {
	v, ok := s.versions[r.PathValue("ns")+"/"+r.PathValue("name")+"/"+r.PathValue("version")]
	if !ok || !s.providers[r.PathValue("org")+"/"+r.PathValue("ns")+"/"+r.PathValue("name")] {
		apiError(w, http.StatusNotFound, "not found")
		return nil
	}
	return v
}

func (s *tfc) readVersion(w http.ResponseWriter, r *http.Request) {
	if v := s.version(w, r); v != nil {
		writeAPI(w, http.StatusOK, s.versionDoc(v), nil)
	}
}

func (s *tfc) platformDoc(v *tfcVersion, p *tfcPlatform) map[string]any {
	links := map[string]any{}
	_, uploaded := s.objects[s.archivistPath(v, p.filename)]
	if uploaded {
		links["provider-binary-download"] = s.archivist(v, p.filename)
	} else {
		links["provider-binary-upload"] = s.archivist(v, p.filename)
	}
	return map[string]any{
		"id": p.id, "type": "registry-provider-platforms",
		"attributes": map[string]any{
			"os": p.os, "arch": p.arch, "filename": p.filename, "shasum": p.shasum,
			"permissions":              map[string]any{"can-delete": true, "can-upload-asset": true},
			"provider-binary-uploaded": uploaded,
		},
		"relationships": map[string]any{"registry-provider-version": map[string]any{
			"data": map[string]any{"id": v.id, "type": "registry-provider-versions"}}},
		"links": links,
	}
}

var (
	shasumRE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	platformRE = regexp.MustCompile(`^[a-z0-9]+$`)
)

func (s *tfc) createPlatform(w http.ResponseWriter, r *http.Request) {
	v := s.version(w, r)
	if v == nil {
		return
	}
	a, ok := s.body(w, r, "registry-provider-platforms", "os", "arch", "shasum", "filename")
	if !ok {
		return
	}
	p := &tfcPlatform{os: str(a, "os"), arch: str(a, "arch"), shasum: str(a, "shasum"), filename: str(a, "filename")}
	if !platformRE.MatchString(p.os) || !platformRE.MatchString(p.arch) || !shasumRE.MatchString(p.shasum) || strings.ContainsAny(p.filename, "/\\") {
		s.problem(w, http.StatusUnprocessableEntity, "invalid platform %+v", *p)
		return
	}
	k := p.os + "_" + p.arch
	if _, dup := v.platforms[k]; dup {
		s.problem(w, http.StatusUnprocessableEntity, "platform %s has already been taken", k)
		return
	}
	p.id = "provpltfrm-" + v.version + "-" + k
	v.platforms[k] = p
	v.order = append(v.order, k)
	s.writes++
	writeAPI(w, http.StatusCreated, s.platformDoc(v, p), nil)
}

func (s *tfc) listPlatforms(w http.ResponseWriter, r *http.Request) {
	v := s.version(w, r)
	if v == nil {
		return
	}
	data := []any{}
	for _, k := range v.order {
		data = append(data, s.platformDoc(v, v.platforms[k]))
	}
	writeAPI(w, http.StatusOK, data, map[string]any{"meta": map[string]any{"pagination": map[string]any{
		"current-page": 1, "page-size": 100, "prev-page": nil, "next-page": nil, "total-pages": 1, "total-count": len(data),
	}}})
}

func (s *tfc) readPlatform(w http.ResponseWriter, r *http.Request) {
	v := s.version(w, r)
	if v == nil {
		return
	}
	p, ok := v.platforms[r.PathValue("os")+"_"+r.PathValue("arch")]
	if !ok {
		apiError(w, http.StatusNotFound, "not found")
		return
	}
	writeAPI(w, http.StatusOK, s.platformDoc(v, p), nil)
}

// failPUTs makes the next n uploads whose path ends in suffix fail with 503.
// It locks like the handlers do: the uploads come from the publish command, a
// process of its own, so nothing else orders this write before their reads.
func (s *tfc) failPUTs(suffix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPUT[suffix] = n
}

// putObject is the object store: it takes each upload link once.
func (s *tfc) putObject(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "" {
		s.leaks++
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for suffix, n := range s.failPUT {
		if n > 0 && strings.HasSuffix(r.URL.Path, suffix) {
			s.failPUT[suffix] = n - 1
			http.Error(w, "injected failure", http.StatusServiceUnavailable)
			return
		}
	}
	if !s.uploadable(r.URL.Path) {
		s.problem(w, http.StatusForbidden, "PUT %s: no upload link was given for it", r.URL.Path)
		return
	}
	if _, done := s.objects[r.URL.Path]; done {
		s.problem(w, http.StatusConflict, "PUT %s: uploaded before", r.URL.Path)
		return
	}
	s.objects[r.URL.Path] = b
	s.writes++
	w.WriteHeader(http.StatusOK)
}

// uploadable: the path is a SHA256SUMS, signature or platform of a known version.
func (s *tfc) uploadable(path string) bool {
	for _, v := range s.versions {
		for _, what := range []string{"SHA256SUMS", "SHA256SUMS.sig"} {
			if path == s.archivistPath(v, what) {
				return true
			}
		}
		for _, p := range v.platforms {
			if path == s.archivistPath(v, p.filename) {
				return true
			}
		}
	}
	return false
}

func (s *tfc) getObject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "" {
		s.leaks++
	}
	b, ok := s.objects[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
}

// complete: a version the registry protocol lists, with everything uploaded.
func (s *tfc) complete(v *tfcVersion) bool {
	_, sums := s.objects[s.archivistPath(v, "SHA256SUMS")]
	_, sig := s.objects[s.archivistPath(v, "SHA256SUMS.sig")]
	return sums && sig
}

func (s *tfc) protocolVersions(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	versions := []any{}
	for _, v := range s.versions {
		if v.namespace != ns || v.name != name || !s.complete(v) {
			continue
		}
		var plats []any
		for _, k := range v.order {
			p := v.platforms[k]
			if _, up := s.objects[s.archivistPath(v, p.filename)]; up {
				plats = append(plats, map[string]string{"os": p.os, "arch": p.arch})
			}
		}
		versions = append(versions, map[string]any{"version": v.version, "protocols": v.protocols, "platforms": plats})
	}
	writeJSON(w, map[string]any{"versions": versions})
}

func (s *tfc) protocolDownload(w http.ResponseWriter, r *http.Request) {
	v, ok := s.versions[r.PathValue("ns")+"/"+r.PathValue("name")+"/"+r.PathValue("version")]
	if !ok || !s.complete(v) {
		http.NotFound(w, r)
		return
	}
	p, ok := v.platforms[r.PathValue("os")+"_"+r.PathValue("arch")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, map[string]any{
		"protocols": v.protocols, "os": p.os, "arch": p.arch, "filename": p.filename,
		"download_url":          s.archivist(v, p.filename),
		"shasums_url":           s.archivist(v, "SHA256SUMS"),
		"shasums_signature_url": s.archivist(v, "SHA256SUMS.sig"),
		"shasum":                p.shasum,
		"signing_keys": map[string]any{"gpg_public_keys": []any{map[string]any{
			"key_id": v.keyID, "ascii_armor": s.keys[v.namespace+"/"+v.keyID],
		}}},
	})
}

// tamper replaces an uploaded object, as a corrupted or swapped download would.
func (s *tfc) tamper(path string, f func([]byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[path] = f(s.objects[path])
}
