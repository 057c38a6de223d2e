package canonuri

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		opts    Options
		norm    string
		wantErr error
	}{
		{in: "https://api.example.com/mcp", norm: "https://api.example.com/mcp"},
		{in: "HTTPS://API.Example.COM:443/mcp", norm: "https://api.example.com/mcp"},
		{in: "https://api.example.com/", norm: "https://api.example.com"},
		{in: "https://api.example.com", norm: "https://api.example.com"},
		{in: "https://api.example.com:8443", norm: "https://api.example.com:8443"},
		{in: "https://api.example.com/?q=1", norm: "https://api.example.com?q=1"},
		{in: "https://api.example.com/a%2Fb", norm: "https://api.example.com/a%2Fb"},
		{in: "https://[::1]:8443/x", norm: "https://[::1]:8443/x"},
		{in: "http://127.0.0.1:9/x", opts: Options{AllowHTTPLoopback: true}, norm: "http://127.0.0.1:9/x"},
		{in: "http://127.0.0.1:80/x", opts: Options{AllowHTTPLoopback: true}, norm: "http://127.0.0.1/x"},
		{in: "http://[::1]/x", opts: Options{AllowHTTPLoopback: true}, norm: "http://[::1]/x"},
		{in: "http://localhost/x", opts: Options{AllowHTTPLoopback: true}, norm: "http://localhost/x"},
		{in: "http://foo.localhost/x", opts: Options{AllowHTTPLoopback: true}, wantErr: ErrHTTP},
		{in: "http://127.0.0.1/x", wantErr: ErrHTTP},
		{in: "http://10.0.0.1/x", opts: Options{AllowHTTPLoopback: true}, wantErr: ErrHTTP},
		{in: "ftp://x/y", wantErr: ErrScheme},
		{in: "https:/x", wantErr: ErrNotAbsolute},
		{in: "//x/y", wantErr: ErrNotAbsolute},
		{in: "https://", wantErr: ErrNotAbsolute},
		{in: "https://:443/x", wantErr: ErrNotAbsolute},
		{in: "https://a@b/x", wantErr: ErrUserinfo},
		{in: "https://b/x#f", wantErr: ErrFragment},
		{in: "https://b/x y", wantErr: ErrCharacters},
		{in: `https://b/x\y`, wantErr: ErrCharacters},
		{in: "https://bü/x", wantErr: ErrNonASCII},
		{in: "https://b%41/x", wantErr: ErrHost},
		{in: "https://b_c/x", wantErr: ErrHost},
		{in: "https://[::1%25eth0]/x", wantErr: ErrHost},
		{in: "https://[1.2.3.4]/x", wantErr: ErrHost},
		{in: "https://b:12a/x", wantErr: ErrPort},
		{in: "https://b:123456/x", wantErr: ErrPort},
		{in: "https://b/./x", wantErr: ErrDotSegment},
		{in: "https://b/x/..", wantErr: ErrDotSegment},
		{in: "https://b/x/..y", norm: "https://b/x/..y"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := Parse(tc.in, tc.opts)
			if tc.wantErr != nil {
				require.True(t, errors.Is(err, tc.wantErr), "got %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.norm, u.String())
		})
	}
	long := "https://a/" + string(make([]byte, MaxLen))
	_, err := Parse(long, Options{})
	require.ErrorIs(t, err, ErrTooLong)
}

func TestMatcherByteExactDoesNotAllocate(t *testing.T) {
	u, err := Parse("https://api.example.com/mcp", Options{})
	require.NoError(t, err)
	m := NewMatcher("https://api.example.com/mcp", u, []string{"api://x"}, false, Options{})
	allocs := testing.AllocsPerRun(100, func() {
		if !m.Match("https://api.example.com/mcp") || !m.Match("api://x") || m.Match("urn:other") {
			t.Fatal("wrong decision")
		}
	})
	require.Zero(t, allocs)
	require.True(t, m.Match("HTTPS://API.EXAMPLE.COM:443/mcp"))
	require.False(t, m.Match("https://api.example.com/mcp/"))
}

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "[::1]": true, "::1": true,
		"localhost.example": false, "10.0.0.1": false, "example.com": false, "[::2]": false, "0.0.0.0": false,
	} {
		require.Equal(t, want, IsLoopbackHost(h), h)
	}
}
