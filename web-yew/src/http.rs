//! The HTTP calls the UI makes besides the WebSocket: login and logout (the session
//! cookie is set and cleared by the server; JavaScript never sees it — it is HttpOnly),
//! and transfers (uploads on a ticket, downloads).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub fn js_error(v: JsValue) -> String {
    v.as_string()
        .or_else(|| {
            v.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "request failed".to_owned())
}

/// `method path` with an optional JSON body; returns the status and the body text.
pub async fn request(
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(&b));
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers
            .set("Content-Type", "application/json")
            .map_err(js_error)?;
        init.set_headers(&headers);
    }
    fetch(path, &init).await
}

/// Fetches `path` as `init` says; the status and the body text.
async fn fetch(path: &str, init: &web_sys::RequestInit) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(path, init))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(resp.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    Ok((resp.status(), text.as_string().unwrap_or_default()))
}

/// `PUT`s a file the user picked to `path` (a transfer ticket's URL; the session cookie
/// authenticates it); returns the status and the body text.
pub async fn put_file(path: &str, file: &web_sys::File) -> Result<(u16, String), String> {
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_body(file);
    fetch(path, &init).await
}

/// Like [`put_file`], reporting `(bytes sent, bytes in all)` as the upload goes — fetch
/// cannot tell upload progress, XMLHttpRequest can.
pub async fn put_file_with_progress(
    path: &str,
    file: &web_sys::File,
    on_progress: impl Fn(f64, f64) + 'static,
) -> Result<(u16, String), String> {
    use wasm_bindgen::closure::Closure;
    let xhr = web_sys::XmlHttpRequest::new().map_err(js_error)?;
    xhr.open_with_async("PUT", path, true).map_err(js_error)?;
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            if e.length_computable() {
                on_progress(e.loaded(), e.total());
            }
        });
    xhr.upload()
        .map_err(js_error)?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let x = xhr.clone();
    let done = js_sys::Promise::new(&mut |resolve, _reject| {
        // Called once, when the request ends whichever way.
        let end = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        x.set_onloadend(Some(end.unchecked_ref()));
    });
    xhr.send_with_opt_blob(Some(file)).map_err(js_error)?;
    JsFuture::from(done).await.map_err(js_error)?;
    drop(progress);
    let status = xhr.status().map_err(js_error)?;
    if status == 0 {
        return Err("the upload did not reach Berth (the connection was lost)".into());
    }
    Ok((
        status,
        xhr.response_text().map_err(js_error)?.unwrap_or_default(),
    ))
}

/// Offers `content` as a file download.
pub fn download(name: &str, mime: &str, content: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(content));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let r = download_url(name, &url);
    let _ = web_sys::Url::revoke_object_url(&url);
    r
}

/// Downloads what `url` serves as `name` (same origin: the session cookie goes along).
pub fn download_url(name: &str, url: &str) -> Result<(), String> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| "not an anchor".to_owned())?;
    a.set_href(url);
    a.set_download(name);
    a.click();
    Ok(())
}
