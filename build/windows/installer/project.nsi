# Ferry's Windows installer: ferry-desktop.exe and ferry.exe in Program Files\Ferry (all users) or
# %LOCALAPPDATA%\Programs\Ferry (just me), a Start menu entry, an optional desktop shortcut, the WebView2
# runtime when missing, and an uninstaller listed in Apps & features.
#
# build/package/windows.sh compiles it (not `wails build -nsis`), defining:
#   VERSION    Ferry's version (build/version.sh)        VERSION4   its numeric X.Y.Z.N form
#   BIN_DIR    folder holding ferry-desktop.exe, ferry.exe, LICENSE.txt and Wails' copy of
#              Microsoft's WebView2 bootstrapper, MicrosoftEdgeWebview2Setup.exe
#   COPYRIGHT  the copyright line of LICENSE                OUTFILE    the setup.exe to write
#
# Command line: setup.exe [/S] [/AllUsers | /CurrentUser] [/D=FOLDER]  (/D last, unquoted)
#               uninstall.exe [/S] [/AllUsers | /CurrentUser]
# The WebView2 check and bootstrapper, the Windows 10 check and the uninstall entry follow Wails'
# NSIS template (wails_tools.nsh).

Target amd64-unicode
SetCompressor /SOLID lzma
ManifestDPIAware true

!define PRODUCT "Ferry"
!define PUBLISHER "Ferry contributors"
!define APP_EXE "ferry-desktop.exe"
!define CLI_EXE "ferry.exe"
!define UNINSTALLER "uninstall.exe"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Ferry"
!define WEBVIEW2_CLIENT "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${PRODUCT}"
OutFile "${OUTFILE}"

VIProductVersion "${VERSION4}"
VIFileVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION4}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "${COPYRIGHT}"

# All users when run as an administrator, else just the current user; /AllUsers and /CurrentUser
# choose on the command line. The uninstall key remembers the mode and the folder.
!define MULTIUSER_EXECUTIONLEVEL Highest
!define MULTIUSER_MUI
!define MULTIUSER_INSTALLMODE_COMMANDLINE
!define MULTIUSER_INSTALLMODE_INSTDIR "${PRODUCT}"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_KEY "${UNINST_KEY}"
!define MULTIUSER_INSTALLMODE_INSTDIR_REGISTRY_VALUENAME "InstallLocation"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_KEY "${UNINST_KEY}"
!define MULTIUSER_INSTALLMODE_DEFAULT_REGISTRY_VALUENAME "InstallLocation"
!include MultiUser.nsh
!include MUI2.nsh
!include LogicLib.nsh
!include WinVer.nsh
!include FileFunc.nsh

!define MUI_ICON "../icon.ico"
!define MUI_UNICON "../icon.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!insertmacro MUI_PAGE_WELCOME
!insertmacro MULTIUSER_PAGE_INSTALLMODE
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${AtLeastWin10}
    MessageBox MB_OK|MB_ICONSTOP "${PRODUCT} needs Windows 10 or later." /SD IDOK
    SetErrorLevel 64
    Quit
  ${EndIf}
  # MultiUser sets the default folder of the mode; a /D=FOLDER given on the command line wins.
  StrCpy $0 $INSTDIR
  !insertmacro MULTIUSER_INIT
  ${If} $0 != ""
    StrCpy $INSTDIR $0
  ${EndIf}
FunctionEnd

# The desktop app needs the WebView2 runtime (part of Windows 11, of most Windows 10): when neither a
# machine-wide nor a per-user runtime is registered, run Microsoft's bootstrapper, which downloads it.
# If that fails, the app offers the download itself when it starts.
Section "-WebView2 runtime"
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2_CLIENT}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\${WEBVIEW2_CLIENT}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    DetailPrint "Installing the WebView2 runtime"
    InitPluginsDir
    File "/oname=$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" "${BIN_DIR}/MicrosoftEdgeWebview2Setup.exe"
    ClearErrors
    ExecWait '"$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" /silent /install' $1
    ${If} ${Errors}
    ${OrIf} $1 != 0
      DetailPrint "The WebView2 runtime was not installed ($1): ${PRODUCT} offers it when it starts."
    ${EndIf}
  ${EndIf}
SectionEnd

Section "${PRODUCT}" SecApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${BIN_DIR}/${APP_EXE}"
  File "${BIN_DIR}/${CLI_EXE}"
  File "${BIN_DIR}/LICENSE.txt"
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"
  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"

  # SHCTX is HKLM for all users, HKCU for the current user (MultiUser sets it).
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr SHCTX "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr SHCTX "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr SHCTX "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}" /$MultiUser.InstallMode'
  WriteRegStr SHCTX "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /$MultiUser.InstallMode /S'
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD SHCTX "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

Section "Desktop shortcut" SecDesktop
  CreateShortcut "$DESKTOP\${PRODUCT}.lnk" "$INSTDIR\${APP_EXE}"
SectionEnd

Function un.onInit
  # The folder to remove is the uninstaller's own, whatever the registry says.
  StrCpy $0 $INSTDIR
  !insertmacro MULTIUSER_UNINIT
  StrCpy $INSTDIR $0
FunctionEnd

Section "Uninstall"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  Delete "$DESKTOP\${PRODUCT}.lnk"
  DeleteRegKey SHCTX "${UNINST_KEY}"
  # The WebView2 data of the user who uninstalls (Wails keeps it in %APPDATA%\ferry-desktop.exe);
  # Ferry's own settings stay.
  SetShellVarContext current
  RMDir /r "$APPDATA\${APP_EXE}"
SectionEnd
