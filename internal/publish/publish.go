// Package publish puts a signed release from dist/ into the private registry of
// an HCP Terraform or Terraform Enterprise organization, through HashiCorp's API
// client (go-tfe). The API's steps, in order: the provider (its namespace is the
// organization), the GPG public key, the version with its plugin protocols, the
// version's SHA256SUMS and signature, then each platform (os, arch, shasum,
// filename) and its zip.
//
// Every step first reads what is there, so a rerun after a failure finishes the
// job and a rerun after success changes nothing. A version that already exists
// with other content (another key, other protocols, other checksums, other
// platforms) is refused before anything of that version is written (the
// provider and the GPG key, which a rerun would create all the same, may be
// created first): versions are immutable for the users whose lock files
// recorded their hashes.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	tfe "github.com/hashicorp/go-tfe"

	"github.com/qingcloud/terraform-provider-hpc/internal/release"
)

// Options says what to publish where.
type Options struct {
	Organization string // also the provider's namespace
	Name         string // the provider's type name, "hpc"
	Dist         *release.Dist
	Key          *release.Key
	DryRun       bool      // read only, and print what would be done
	Out          io.Writer // progress
}

// ConflictError says the version exists with other content; nothing was written.
type ConflictError struct {
	Address string
	Version string
	Reasons []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s %s already exists in the registry with different content, and a published version is never overwritten:\n  - %s\nnothing was changed; publish under a new version, or delete %s from the registry first if no one can have installed it",
		e.Address, e.Version, strings.Join(e.Reasons, "\n  - "), e.Version)
}

type run struct {
	c   *tfe.Client
	o   Options
	out io.Writer
	// wrote counts the changes made (or, in a dry run, that would be made).
	wrote int
}

// Run publishes o.Dist. The client must be authenticated for the organization
// with a token that may manage its private registry.
func Run(ctx context.Context, c *tfe.Client, o Options) error {
	if o.Name == "" {
		o.Name = "hpc"
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if err := o.Dist.VerifySignature(o.Key); err != nil {
		return err
	}
	r := &run{c: c, o: o, out: out}
	addr := o.Organization + "/" + o.Name
	if o.DryRun {
		r.say("dry run: nothing will be written")
	}
	r.say("publishing %s %s (protocols %s; %d platforms; key %s)", addr, o.Dist.Version,
		strings.Join(o.Dist.Protocols, ", "), len(o.Dist.Platforms), o.Key.ID)

	if err := r.provider(ctx); err != nil {
		return err
	}
	if err := r.key(ctx); err != nil {
		return err
	}
	v, platforms, err := r.version(ctx)
	if err != nil {
		return err
	}
	if err := r.shasums(ctx, v); err != nil {
		return err
	}
	for _, p := range o.Dist.Platforms {
		if err := r.platform(ctx, p, platforms[p.OS+"_"+p.Arch]); err != nil {
			return err
		}
	}
	switch {
	case o.DryRun && r.wrote == 0:
		r.say("dry run: %s %s is already published; nothing to do", addr, o.Dist.Version)
	case o.DryRun:
		r.say("dry run: %d change(s) would be made", r.wrote)
	case r.wrote == 0:
		r.say("%s %s was already published; nothing changed", addr, o.Dist.Version)
	default:
		r.say("published %s %s (%d change(s))", addr, o.Dist.Version, r.wrote)
	}
	return nil
}

func (r *run) say(format string, args ...any) {
	_, _ = fmt.Fprintf(r.out, format+"\n", args...)
}

func (r *run) providerID() tfe.RegistryProviderID {
	return tfe.RegistryProviderID{
		OrganizationName: r.o.Organization,
		RegistryName:     tfe.PrivateRegistry,
		Namespace:        r.o.Organization,
		Name:             r.o.Name,
	}
}

func (r *run) versionID() tfe.RegistryProviderVersionID {
	return tfe.RegistryProviderVersionID{RegistryProviderID: r.providerID(), Version: r.o.Dist.Version}
}

func (r *run) provider(ctx context.Context) error {
	_, err := r.c.RegistryProviders.Read(ctx, r.providerID(), nil)
	switch {
	case err == nil:
		r.say("provider %s/%s: exists", r.o.Organization, r.o.Name)
		return nil
	case !errors.Is(err, tfe.ErrResourceNotFound):
		return fmt.Errorf("reading provider %s/%s: %w", r.o.Organization, r.o.Name, err)
	}
	r.wrote++
	if r.o.DryRun {
		r.say("provider %s/%s: would create", r.o.Organization, r.o.Name)
		return nil
	}
	if _, err := r.c.RegistryProviders.Create(ctx, r.o.Organization, tfe.RegistryProviderCreateOptions{
		Name: r.o.Name, Namespace: r.o.Organization, RegistryName: tfe.PrivateRegistry,
	}); err != nil {
		return fmt.Errorf("creating provider %s/%s: %w", r.o.Organization, r.o.Name, err)
	}
	r.say("provider %s/%s: created", r.o.Organization, r.o.Name)
	return nil
}

func (r *run) key(ctx context.Context) error {
	_, err := r.c.GPGKeys.Read(ctx, tfe.GPGKeyID{RegistryName: tfe.PrivateRegistry, Namespace: r.o.Organization, KeyID: r.o.Key.ID})
	switch {
	case err == nil:
		r.say("GPG key %s: exists", r.o.Key.ID)
		return nil
	case !errors.Is(err, tfe.ErrResourceNotFound):
		return fmt.Errorf("reading GPG key %s: %w", r.o.Key.ID, err)
	}
	r.wrote++
	if r.o.DryRun {
		r.say("GPG key %s: would add", r.o.Key.ID)
		return nil
	}
	k, err := r.c.GPGKeys.Create(ctx, tfe.PrivateRegistry, tfe.GPGKeyCreateOptions{Namespace: r.o.Organization, AsciiArmor: r.o.Key.Armored})
	if err != nil {
		return fmt.Errorf("adding GPG key %s: %w", r.o.Key.ID, err)
	}
	if !strings.EqualFold(k.KeyID, r.o.Key.ID) {
		return fmt.Errorf("the registry gave the GPG key the id %s, but it is %s here", k.KeyID, r.o.Key.ID)
	}
	r.say("GPG key %s: added", r.o.Key.ID)
	return nil
}

// version finds or creates the version, and the platforms it already has. An
// existing version is compared with dist/ before anything else is written.
func (r *run) version(ctx context.Context) (*tfe.RegistryProviderVersion, map[string]*tfe.RegistryProviderPlatform, error) {
	d := r.o.Dist
	v, err := r.c.RegistryProviderVersions.Read(ctx, r.versionID())
	switch {
	case errors.Is(err, tfe.ErrResourceNotFound):
		r.wrote++
		if r.o.DryRun {
			r.say("version %s: would create (protocols %s, key %s)", d.Version, strings.Join(d.Protocols, ", "), r.o.Key.ID)
			return nil, nil, nil
		}
		v, err = r.c.RegistryProviderVersions.Create(ctx, r.providerID(), tfe.RegistryProviderVersionCreateOptions{
			Version: d.Version, KeyID: r.o.Key.ID, Protocols: d.Protocols,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("creating version %s: %w", d.Version, err)
		}
		r.say("version %s: created", d.Version)
		return v, map[string]*tfe.RegistryProviderPlatform{}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading version %s: %w", d.Version, err)
	}

	platforms, err := r.platforms(ctx)
	if err != nil {
		return nil, nil, err
	}
	var reasons []string
	if !strings.EqualFold(v.KeyID, r.o.Key.ID) {
		reasons = append(reasons, fmt.Sprintf("it is signed with key %s, this release with %s", v.KeyID, r.o.Key.ID))
	}
	if a, b := slices.Sorted(slices.Values(v.Protocols)), slices.Sorted(slices.Values(d.Protocols)); !slices.Equal(a, b) {
		reasons = append(reasons, fmt.Sprintf("it declares protocols %s, this release %s", strings.Join(a, ", "), strings.Join(b, ", ")))
	}
	if v.ShasumsUploaded {
		theirs, err := r.download(ctx, v)
		if err != nil {
			return nil, nil, err
		}
		if !bytes.Equal(theirs, d.Sums) {
			reasons = append(reasons, fmt.Sprintf("its SHA256SUMS differs from %s", d.SumsName))
		}
	}
	mine := map[string]release.Platform{}
	for _, p := range d.Platforms {
		mine[p.OS+"_"+p.Arch] = p
	}
	for _, k := range slices.Sorted(maps.Keys(platforms)) {
		theirs := platforms[k]
		p, ok := mine[k]
		switch {
		case !ok:
			reasons = append(reasons, fmt.Sprintf("it has platform %s, which this release does not", k))
		case !strings.EqualFold(theirs.Shasum, p.SHA256):
			reasons = append(reasons, fmt.Sprintf("its %s zip has SHA-256 %s, this release's %s", k, theirs.Shasum, p.SHA256))
		case theirs.Filename != p.Filename:
			reasons = append(reasons, fmt.Sprintf("its %s zip is named %s, this release's %s", k, theirs.Filename, p.Filename))
		}
	}
	if len(reasons) > 0 {
		return nil, nil, &ConflictError{Address: r.o.Organization + "/" + r.o.Name, Version: d.Version, Reasons: reasons}
	}
	r.say("version %s: exists, same key, protocols and checksums", d.Version)
	return v, platforms, nil
}

// platforms lists the version's platforms by "<os>_<arch>", every page.
func (r *run) platforms(ctx context.Context) (map[string]*tfe.RegistryProviderPlatform, error) {
	all := map[string]*tfe.RegistryProviderPlatform{}
	opts := &tfe.RegistryProviderPlatformListOptions{ListOptions: tfe.ListOptions{PageSize: 100}}
	for page := 1; ; page++ {
		opts.PageNumber = page
		l, err := r.c.RegistryProviderPlatforms.List(ctx, r.versionID(), opts)
		if err != nil {
			return nil, fmt.Errorf("listing the platforms of version %s: %w", r.o.Dist.Version, err)
		}
		for _, p := range l.Items {
			all[p.OS+"_"+p.Arch] = p
		}
		if l.Pagination == nil || l.NextPage == 0 || l.NextPage <= page {
			return all, nil
		}
	}
}

// shasums uploads SHA256SUMS and its signature unless the version has them.
func (r *run) shasums(ctx context.Context, v *tfe.RegistryProviderVersion) error {
	d := r.o.Dist
	if v == nil { // dry run, version not created
		r.wrote += 2
		r.say("%s: would upload\n%s: would upload", d.SumsName, d.SigName)
		return nil
	}
	if v.ShasumsUploaded {
		r.say("%s: uploaded before", d.SumsName)
	} else {
		r.wrote++
		if err := r.upload(ctx, d.SumsName, d.Sums, v.ShasumsUploadURL); err != nil {
			return err
		}
	}
	if v.ShasumsSigUploaded {
		r.say("%s: uploaded before", d.SigName)
		return nil
	}
	r.wrote++
	return r.upload(ctx, d.SigName, d.Sig, v.ShasumsSigUploadURL)
}

func (r *run) platform(ctx context.Context, p release.Platform, have *tfe.RegistryProviderPlatform) error {
	name := p.OS + "_" + p.Arch
	if have == nil {
		r.wrote++
		if r.o.DryRun {
			r.say("platform %s: would create and upload %s", name, p.Filename)
			return nil
		}
		created, err := r.c.RegistryProviderPlatforms.Create(ctx, r.versionID(), tfe.RegistryProviderPlatformCreateOptions{
			OS: p.OS, Arch: p.Arch, Shasum: p.SHA256, Filename: p.Filename,
		})
		if err != nil {
			return fmt.Errorf("creating platform %s: %w", name, err)
		}
		r.say("platform %s: created", name)
		have = created
	} else if have.ProviderBinaryUploaded {
		r.say("platform %s: %s uploaded before", name, p.Filename)
		return nil
	} else {
		r.wrote++
		if r.o.DryRun {
			r.say("platform %s: exists; would upload %s", name, p.Filename)
			return nil
		}
		// The upload link comes with a platform read while its zip is missing.
		fresh, err := r.c.RegistryProviderPlatforms.Read(ctx, tfe.RegistryProviderPlatformID{
			RegistryProviderVersionID: r.versionID(), OS: p.OS, Arch: p.Arch,
		})
		if err != nil {
			return fmt.Errorf("reading platform %s: %w", name, err)
		}
		have = fresh
	}
	zip, err := os.ReadFile(p.Path)
	if err != nil {
		return err
	}
	// SHA256SUMS was checked against the file when dist/ was opened; check again
	// what is about to be sent, in case the file changed since.
	if got := sha256Hex(zip); got != p.SHA256 {
		return fmt.Errorf("%s changed since it was checked (SHA-256 now %s, SHA256SUMS says %s); nothing more was uploaded", p.Filename, got, p.SHA256)
	}
	return r.upload(ctx, p.Filename, zip, func() (string, error) {
		u, ok := have.Links["provider-binary-upload"].(string)
		if !ok || u == "" {
			return "", fmt.Errorf("the registry gave no provider-binary-upload link for platform %s", name)
		}
		return u, nil
	})
}

// upload sends data to a one-time upload link from the API. The link itself
// authorizes the upload (in HCP Terraform it points at its object store), so
// the API token is not sent with it.
func (r *run) upload(ctx context.Context, name string, data []byte, link func() (string, error)) error {
	if r.o.DryRun {
		r.say("%s: would upload (%s)", name, size(len(data)))
		return nil
	}
	u, err := link()
	if err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	r.say("%s: uploading %s ...", name, size(len(data)))
	req, err := r.c.NewRequest("PUT", u, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	req.Header.Del("Authorization")
	if err := req.DoJSON(ctx, nil); err != nil {
		return fmt.Errorf("uploading %s: %w (rerun to finish the publish: what is done is kept)", name, err)
	}
	r.say("%s: uploaded", name)
	return nil
}

// download fetches the version's SHA256SUMS as the registry has it.
func (r *run) download(ctx context.Context, v *tfe.RegistryProviderVersion) ([]byte, error) {
	u, err := v.ShasumsDownloadURL()
	if err != nil {
		return nil, fmt.Errorf("version %s: %w", v.Version, err)
	}
	req, err := r.c.NewRequest("GET", u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Del("Authorization")
	var buf bytes.Buffer
	if err := req.DoJSON(ctx, &buf); err != nil {
		return nil, fmt.Errorf("downloading the SHA256SUMS of version %s to compare: %w", v.Version, err)
	}
	return buf.Bytes(), nil
}

func size(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
