package wasim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"go.mau.fi/whatsmeow/util/cbcutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
)

// mediaKind is what a media message needs to be encrypted, stored and
// named: the HKDF info of its keys, the upload path's mms type and the
// inbox type.
type mediaKind struct {
	info, mms, typ string
}

var mediaKinds = map[string]mediaKind{
	"image":    {"WhatsApp Image Keys", "image", "image"},
	"sticker":  {"WhatsApp Image Keys", "image", "sticker"},
	"video":    {"WhatsApp Video Keys", "video", "video"},
	"audio":    {"WhatsApp Audio Keys", "audio", "audio"},
	"document": {"WhatsApp Document Keys", "document", "document"},
}

// Media verification errors, as whatsmeow's download.go reports them.
var (
	errMediaTooShort  = errors.New("file too short")
	errMediaEncSHA256 = errors.New("invalid media enc sha256")
	errMediaHMAC      = errors.New("invalid media hmac")
	errMediaPadding   = errors.New("invalid padding")
	errMediaLength    = errors.New("file length does not match")
	errMediaSHA256    = errors.New("invalid media sha256")
)

// mediaKeys expands a media key: iv, cipher key, mac key.
func mediaKeys(mediaKey []byte, info string) (iv, cipherKey, macKey []byte) {
	k := hkdfutil.SHA256(mediaKey, nil, []byte(info), 112)
	return k[:16], k[16:48], k[48:80]
}

// encryptedMedia is a file encrypted the way a WhatsApp client uploads it.
type encryptedMedia struct {
	blob                          []byte // ciphertext ‖ mac[:10]
	mediaKey, fileSHA, fileEncSHA []byte
}

// encryptMedia is a simulated phone preparing an upload.
func encryptMedia(plain []byte, info string) (encryptedMedia, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return encryptedMedia{}, err
	}
	iv, cipherKey, macKey := mediaKeys(key, info)
	ct, err := cbcutil.Encrypt(cipherKey, iv, plain)
	if err != nil {
		return encryptedMedia{}, fmt.Errorf("encrypt media: %w", err)
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	mac.Write(ct)
	blob := append(ct, mac.Sum(nil)[:10]...)
	fileSHA := sha256.Sum256(plain)
	encSHA := sha256.Sum256(blob)
	return encryptedMedia{blob: blob, mediaKey: key, fileSHA: fileSHA[:], fileEncSHA: encSHA[:]}, nil
}

// mediaExpect is what a media message promises about its file.
type mediaExpect struct {
	mediaKey, fileSHA, fileEncSHA []byte
	fileLength                    uint64
	info                          string
}

// decryptMediaFile checks and decrypts a stored blob in two streaming
// passes, with the checks of whatsmeow's downloadAndDecrypt: blob hash,
// HMAC, AES-CBC, padding, then length and plain hash. It returns the plain
// file's SHA-256 and length; plain receives the plaintext when not nil.
func decryptMediaFile(path string, want mediaExpect, plain io.Writer) (sum []byte, n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := st.Size()
	if size <= 10 {
		return nil, 0, errMediaTooShort
	}
	iv, cipherKey, macKey := mediaKeys(want.mediaKey, want.info)
	encHash := sha256.New()
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	if _, err := io.CopyN(io.MultiWriter(encHash, mac), f, size-10); err != nil {
		return nil, 0, fmt.Errorf("read blob: %w", err)
	}
	tail := make([]byte, 10)
	if _, err := io.ReadFull(f, tail); err != nil {
		return nil, 0, fmt.Errorf("read blob: %w", err)
	}
	encHash.Write(tail)
	if len(want.fileEncSHA) == 32 && !bytes.Equal(encHash.Sum(nil), want.fileEncSHA) {
		return nil, 0, errMediaEncSHA256
	}
	if !hmac.Equal(mac.Sum(nil)[:10], tail) {
		return nil, 0, errMediaHMAC
	}
	ctLen := size - 10
	if ctLen%aes.BlockSize != 0 {
		return nil, 0, fmt.Errorf("ciphertext is not a multiple of the block size (%d)", ctLen)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return nil, 0, err
	}
	dec := cipher.NewCBCDecrypter(block, iv)
	h := sha256.New()
	out := io.Writer(h)
	if plain != nil {
		out = io.MultiWriter(h, plain)
	}
	buf := make([]byte, 64<<10)
	for left := ctLen; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		if _, err := io.ReadFull(f, chunk); err != nil {
			return nil, 0, fmt.Errorf("read blob: %w", err)
		}
		left -= int64(len(chunk))
		dec.CryptBlocks(chunk, chunk)
		if left == 0 {
			// The last block carries the padding (1–16 bytes).
			p := int(chunk[len(chunk)-1])
			if p == 0 || p > aes.BlockSize || p > len(chunk) {
				return nil, 0, errMediaPadding
			}
			chunk = chunk[:len(chunk)-p]
		}
		if _, err := out.Write(chunk); err != nil {
			return nil, 0, err
		}
		n += int64(len(chunk))
	}
	sum = h.Sum(nil)
	if uint64(n) != want.fileLength {
		return nil, 0, fmt.Errorf("%w: expected %d, got %d", errMediaLength, want.fileLength, n)
	}
	if len(want.fileSHA) == 32 && !bytes.Equal(sum, want.fileSHA) {
		return nil, 0, errMediaSHA256
	}
	return sum, n, nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
